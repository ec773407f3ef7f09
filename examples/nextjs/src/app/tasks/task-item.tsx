"use client";

import { useState, type FormEvent } from "react";

import type { TaskFieldsFragment, UpdateTaskInput } from "@/lib/graphql/operations.generated";

/** Only the fields the user changed (taskql's updateTask is a PATCH). */
export type TaskChanges = Pick<UpdateTaskInput, "title" | "description">;

interface TaskItemProps {
  task: TaskFieldsFragment;
  onToggle: (task: TaskFieldsFragment) => Promise<void>;
  onFetch: (task: TaskFieldsFragment) => Promise<TaskFieldsFragment | undefined>;
  onSave: (task: TaskFieldsFragment, changes: TaskChanges) => Promise<boolean>;
  onDelete: (task: TaskFieldsFragment) => Promise<void>;
}

export function TaskItem({ task, onToggle, onFetch, onSave, onDelete }: TaskItemProps) {
  // The copy being edited, fetched fresh from taskql when editing starts.
  const [draft, setDraft] = useState<TaskFieldsFragment | null>(null);

  async function edit() {
    const fresh = await onFetch(task);
    if (fresh) setDraft(fresh);
  }

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!draft) return;
    const fields = new FormData(event.currentTarget);
    const title = String(fields.get("title") ?? "");
    const description = String(fields.get("description") ?? "").trim() || null;
    const changes: TaskChanges = {};
    if (title !== draft.title) changes.title = title;
    if (description !== draft.description) changes.description = description;
    if (Object.keys(changes).length === 0 || (await onSave(draft, changes))) setDraft(null);
  }

  if (draft) {
    return (
      <li className="task editing">
        <form className="body" onSubmit={save} aria-label={`Edit ${draft.title}`}>
          <label htmlFor={`title-${task.id}`}>Title</label>
          <input id={`title-${task.id}`} name="title" type="text" defaultValue={draft.title} maxLength={200} required />
          <label htmlFor={`description-${task.id}`}>Description</label>
          <textarea
            id={`description-${task.id}`}
            name="description"
            defaultValue={draft.description ?? ""}
            maxLength={1000}
          />
          <div className="actions">
            <button className="primary" type="submit">
              Save
            </button>
            <button type="button" onClick={() => setDraft(null)}>
              Cancel
            </button>
          </div>
        </form>
      </li>
    );
  }

  return (
    <li className={task.completed ? "task done" : "task"}>
      <input
        type="checkbox"
        checked={task.completed}
        onChange={() => onToggle(task)}
        aria-label={`Completed: ${task.title}`}
      />
      <div className="body">
        <div className="title">{task.title}</div>
        {task.description && <div className="description">{task.description}</div>}
      </div>
      <div className="buttons">
        <button type="button" onClick={edit}>
          Edit
        </button>
        <button type="button" className="danger" onClick={() => onDelete(task)}>
          Delete
        </button>
      </div>
    </li>
  );
}
