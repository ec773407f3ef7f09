"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";

import { TaskItem, type TaskChanges } from "@/app/tasks/task-item";
import { useTaskEvents, type LiveState, type TaskEvent } from "@/app/tasks/use-task-events";
import { signOut, tokens } from "@/lib/auth/session";
import {
  AccessDeniedError,
  ConflictError,
  createTaskqlClient,
  newIdempotencyKey,
  SignInRequiredError,
} from "@/lib/graphql/client";
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
/** Live events that change the page's membership are gathered this long into one refetch. */
const REFETCH_DELAY_MS = 150;
const CHANGED_ELSEWHERE_MESSAGE =
  "This task was changed elsewhere. It now shows the latest version: make your change again if you still want it.";

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
  // The cursor stack of the page asked for last (it may still be loading): live refetches reload it.
  const wanted = useRef<(string | null)[]>([null]);
  // Only the newest load is shown, so a slow refetch never overwrites a newer page.
  const loads = useRef(0);
  const loading = useRef(0);
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Set at sign-out (here or in another tab): no more background refetches; the next action the
  // user takes leads to sign-in.
  const signedOut = useRef(false);

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

  /** Fetches page `index` of `stack` and shows it, unless a newer load started meanwhile. */
  const load = useCallback(
    async (index: number, stack: (string | null)[]): Promise<void> => {
      const ticket = ++loads.current;
      wanted.current = stack.slice(0, index + 1);
      loading.current += 1;
      try {
        const shown = await fetchPage(index, stack);
        if (ticket !== loads.current) return;
        wanted.current = shown.stack;
        setCursors(shown.stack);
        setPage(shown.tasks);
      } finally {
        loading.current -= 1;
      }
    },
    [fetchPage],
  );

  const showPage = (index: number, stack: (string | null)[]) => run(() => load(index, stack));

  useEffect(() => {
    client.request(Me, {}).then((data) => setViewer(data.me), report);
    load(0, [null]).catch(report);
  }, [client, load, report]);

  /** Reloads the current page soon, once for a burst of events. Errors show; success clears none. */
  const refetchSoon = useCallback(() => {
    clearTimeout(refetchTimer.current);
    if (signedOut.current) return;
    refetchTimer.current = setTimeout(() => {
      const stack = wanted.current;
      load(stack.length - 1, stack).catch((failure: unknown) => {
        if (!signedOut.current) report(failure);
      });
    }, REFETCH_DELAY_MS);
  }, [load, report]);

  useEffect(() => {
    const timer = refetchTimer;
    return () => clearTimeout(timer.current);
  }, []);

  const pageIndex = cursors.length - 1;
  const reload = () => showPage(pageIndex, cursors);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const fields = new FormData(form);
    const description = String(fields.get("description") ?? "").trim();
    setCreating(true);
    // One key per submit: however often the network makes the client retry, one task is made.
    const created = await run(() =>
      client.request(
        CreateTask,
        { userId: user.id, input: { title: String(fields.get("title") ?? ""), description: description || null } },
        { idempotencyKey: newIdempotencyKey() },
      ),
    );
    setCreating(false);
    if (!created) return;
    form.reset();
    await showPage(0, [null]); // newest first: the new task is on the first page
  }

  /** Shows a task's new state if it is on this page (and not older than what is shown). */
  function replace(task: TaskFieldsFragment) {
    const newer = (item: TaskFieldsFragment) => item.version > task.version;
    setPage(
      (current) =>
        current && {
          ...current,
          items: current.items.map((item) => (item.id === task.id && !newer(item) ? task : item)),
        },
    );
  }

  const live = useTaskEvents({
    taskqlUrl,
    userId: user.id,
    onEvent: (event: TaskEvent) => {
      if (event.type === "UPDATED" && event.task) {
        // Tasks are listed by creation time, so an update never moves one to another page.
        replace(event.task);
        if (loading.current > 0) refetchSoon(); // a load in flight may predate this change
      } else {
        refetchSoon(); // CREATED or DELETED: the page's members and the total change
      }
    },
    onConnected: refetchSoon, // events sent while the socket was down are not replayed
    onSignInRequired: () => report(new SignInRequiredError()),
    onSignedOut: () => {
      signedOut.current = true;
      clearTimeout(refetchTimer.current);
    },
  });

  /**
   * A change to `task` as the user saw it (its version): done, or, if the task changed elsewhere
   * meanwhile, nothing written and the newer task shown with a message saying so.
   */
  async function change<T>(task: TaskFieldsFragment, action: (expectedVersion: number) => Promise<T>) {
    try {
      const result = await action(task.version);
      setError(null);
      return result;
    } catch (failure) {
      if (!(failure instanceof ConflictError)) {
        report(failure);
        return undefined;
      }
      const newer = await fetchTask(task);
      if (newer) replace(newer);
      else await reload(); // deleted elsewhere
      setError(CHANGED_ELSEWHERE_MESSAGE);
      return undefined;
    }
  }

  // Each action's mutation has a key of its own, so a retry of it never applies it twice.
  async function toggle(task: TaskFieldsFragment) {
    const data = await change(task, (expectedVersion) =>
      client.request(
        ToggleTaskComplete,
        { userId: user.id, id: task.id, expectedVersion },
        { idempotencyKey: newIdempotencyKey() },
      ),
    );
    if (data) replace(data.toggleTaskComplete);
  }

  async function fetchTask(task: TaskFieldsFragment) {
    const data = await run(() => client.request(GetTask, { userId: user.id, id: task.id }));
    return data?.task ?? undefined;
  }

  /** true: saved, or refused as changed elsewhere (the newer task is shown); false: try again. */
  async function save(task: TaskFieldsFragment, changes: TaskChanges) {
    let conflict = false;
    const data = await change(task, (expectedVersion) =>
      client
        .request(
          UpdateTask,
          { userId: user.id, id: task.id, input: changes, expectedVersion },
          { idempotencyKey: newIdempotencyKey() },
        )
        .catch((failure: unknown) => {
          conflict = failure instanceof ConflictError;
          throw failure;
        }),
    );
    if (data) replace(data.updateTask);
    return data !== undefined || conflict;
  }

  async function remove(task: TaskFieldsFragment) {
    const data = await change(task, (expectedVersion) =>
      client.request(
        DeleteTask,
        { userId: user.id, id: task.id, expectedVersion },
        { idempotencyKey: newIdempotencyKey() },
      ),
    );
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
        <div className="topbar-actions">
          <LiveIndicator {...live} />
          <button type="button" onClick={leave}>
            Sign out
          </button>
        </div>
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

const LIVE_LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

/** Whether changes made elsewhere (other tabs, other devices) show up here as they happen. */
function LiveIndicator({ status, detail, reconnect }: LiveState) {
  const explanation =
    status === "live" ? "Changes made in other tabs and devices appear here as they happen." : detail;
  return (
    <span className="live-status">
      <span className={`live is-${status}`} role="status" aria-label="Live updates" title={explanation}>
        {LIVE_LABELS[status]}
      </span>
      {status === "offline" && (
        <button type="button" onClick={reconnect}>
          Reconnect
        </button>
      )}
    </span>
  );
}
