"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";

import { TaskItem, type TaskChanges } from "@/app/tasks/task-item";
import { signOut, tokens } from "@/lib/auth/session";
import { AccessDeniedError, createTaskqlClient, SignInRequiredError } from "@/lib/graphql/client";
import {
  CreateTask,
  DeleteTask,
  GetTask,
  ListTasks,
  Me,
  ToggleTaskComplete,
  UpdateTask,
  type ListTasksResult,
  type MeResult,
  type TaskFieldsFragment,
} from "@/lib/graphql/operations.generated";

const PAGE_SIZE = 5;

export interface SignedInUser {
  id: string;
  email: string;
  name: string;
}

type Page = ListTasksResult["tasks"];

interface Shown {
  tasks: Page;
  stack: (string | null)[];
}

export function TaskBoard({ taskqlUrl, user }: { taskqlUrl: string; user: SignedInUser }) {
  const router = useRouter();
  const client = useMemo(() => createTaskqlClient(taskqlUrl, tokens), [taskqlUrl]);
  const [viewer, setViewer] = useState<MeResult["me"] | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  // cursors[i] is the `after` of page i (keyset pagination: null for the first page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  /** Turns a failed call to taskql into what the user should see. */
  const report = useCallback(
    (failure: unknown) => {
      if (failure instanceof SignInRequiredError) {
        router.replace("/sign-in?reason=session-ended");
      } else if (failure instanceof AccessDeniedError) {
        setError(failure.message);
      } else {
        setError(failure instanceof Error ? failure.message : String(failure));
      }
    },
    [router],
  );

  /** Runs one call to taskql; an error stays on screen until the next call succeeds. */
  const run = useCallback(
    async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
      try {
        const result = await action();
        setError(null);
        return result;
      } catch (failure) {
        report(failure);
        return undefined;
      }
    },
    [report],
  );

  /** Page `index` of the cursor stack, stepping back while a page comes back empty. */
  const fetchPage = useCallback(
    async (index: number, stack: (string | null)[]): Promise<Shown> => {
      for (let i = index; ; i -= 1) {
        const { tasks } = await client.request(ListTasks, {
          userId: user.id,
          first: PAGE_SIZE,
          after: stack[i] ?? null,
        });
        if (tasks.items.length > 0 || i <= 0) return { tasks, stack: stack.slice(0, i + 1) };
      }
    },
    [client, user.id],
  );

  const show = ({ tasks, stack }: Shown) => {
    setCursors(stack);
    setPage(tasks);
  };

  const showPage = async (index: number, stack: (string | null)[]) => {
    const shown = await run(() => fetchPage(index, stack));
    if (shown) show(shown);
  };

  useEffect(() => {
    client.request(Me, {}).then((data) => setViewer(data.me), report);
    fetchPage(0, [null]).then(({ tasks, stack }) => {
      setCursors(stack);
      setPage(tasks);
    }, report);
  }, [client, fetchPage, report]);

  const pageIndex = cursors.length - 1;
  const reload = () => showPage(pageIndex, cursors);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const fields = new FormData(form);
    const description = String(fields.get("description") ?? "").trim();
    setCreating(true);
    const created = await run(() =>
      client.request(CreateTask, {
        userId: user.id,
        input: { title: String(fields.get("title") ?? ""), description: description || null },
      }),
    );
    setCreating(false);
    if (!created) return;
    form.reset();
    await showPage(0, [null]); // newest first: the new task is on the first page
  }

  function replace(task: TaskFieldsFragment) {
    setPage((current) =>
      current && { ...current, items: current.items.map((item) => (item.id === task.id ? task : item)) },
    );
  }

  async function toggle(task: TaskFieldsFragment) {
    const data = await run(() => client.request(ToggleTaskComplete, { userId: user.id, id: task.id }));
    if (data) replace(data.toggleTaskComplete);
  }

  async function fetchTask(task: TaskFieldsFragment) {
    const data = await run(() => client.request(GetTask, { userId: user.id, id: task.id }));
    return data?.task ?? undefined;
  }

  async function save(task: TaskFieldsFragment, changes: TaskChanges) {
    const data = await run(() => client.request(UpdateTask, { userId: user.id, id: task.id, input: changes }));
    if (data) replace(data.updateTask);
    return data !== undefined;
  }

  async function remove(task: TaskFieldsFragment) {
    const data = await run(() => client.request(DeleteTask, { userId: user.id, id: task.id }));
    if (data) await reload();
  }

  async function leave() {
    await signOut();
    router.replace("/sign-in?reason=signed-out");
  }

  const pages = page ? Math.max(1, Math.ceil(page.total / PAGE_SIZE)) : 1;
  return (
    <section className="card">
      <div className="topbar">
        <div>
          <h1>Your tasks</h1>
          <p className="muted">
            Signed in as <strong>{user.name}</strong> ({user.email})
            {viewer && <> · taskql verified your token for {viewer.email}</>}
          </p>
        </div>
        <button type="button" onClick={leave}>
          Sign out
        </button>
      </div>

      <form onSubmit={create} aria-label="New task">
        <label htmlFor="new-title">Title</label>
        <input id="new-title" name="title" type="text" maxLength={200} required />
        <label htmlFor="new-description">Description (optional)</label>
        <textarea id="new-description" name="description" maxLength={1000} />
        <div className="actions">
          <button className="primary" type="submit" disabled={creating}>
            Add task
          </button>
        </div>
      </form>

      {error && (
        <p className="alert" role="alert">
          {error}
        </p>
      )}

      {page === null ? (
        <p className="muted">Loading…</p>
      ) : page.items.length === 0 ? (
        <p className="muted">No tasks yet. Add your first one above.</p>
      ) : (
        <ul className="tasks" aria-label="Tasks">
          {page.items.map((task) => (
            <TaskItem
              key={task.id}
              task={task}
              onToggle={toggle}
              onFetch={fetchTask}
              onSave={save}
              onDelete={remove}
            />
          ))}
        </ul>
      )}

      {page && (
        <nav className="pager" aria-label="Pages">
          <button type="button" onClick={() => showPage(pageIndex - 1, cursors)} disabled={pageIndex === 0}>
            Previous page
          </button>
          <span className="muted" role="status">
            Page {pageIndex + 1} of {pages} · {page.total} {page.total === 1 ? "task" : "tasks"}
          </span>
          <button
            type="button"
            onClick={() => showPage(pageIndex + 1, [...cursors, page.pageInfo.endCursor])}
            disabled={!page.pageInfo.hasNextPage}
          >
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}
