/**
 * Live updates from taskql: subscriptions over a WebSocket (the graphql-transport-ws protocol) with
 * the `graphql-ws` client.
 *
 * A browser cannot put an Authorization header on a WebSocket, so the JWT travels in the
 * `connection_init` payload. `connectionParams` is a function, so every (re)connection sends a fresh
 * token. taskql closes the socket with 4001 when that token expires; the client then reconnects at
 * once with a new one. Every event carries a cursor; a reconnection resumes after the last one seen
 * (`after`), so taskql first sends what happened while the socket was down and nothing is lost or
 * repeated. Only when there is nothing to resume from (the first connection, or a cursor older than
 * taskql keeps: CURSOR_EXPIRED) does `connected` ask the caller to refetch.
 */

import { createClient } from "graphql-ws/client";

import { SignedOutError, type TokenStore } from "@/lib/auth/tokens";
import type { Operation } from "@/lib/graphql/operations.generated";

/** taskql's close codes (see the repository README, "Live updates"). */
const TOKEN_EXPIRED = 4001;
const FORBIDDEN = 4403;

/** Give up after this many failed (re)connections in a row; a successful one resets the count. */
const RETRY_ATTEMPTS = 8;
/** Refused tokens (4403) are retried, each time with a fresh token, this many times at most. */
const FORBIDDEN_ATTEMPTS = 2;

export type LiveStatus = "connecting" | "live" | "reconnecting" | "offline";

export interface LiveHandlers<TResult> {
  next: (data: TResult) => void;
  /** Connected without a cursor to resume from (the first time, or after CURSOR_EXPIRED): refetch
   * what may have changed meanwhile. A resumed connection replays instead and does not call this. */
  connected: () => void;
  /** The resume point in an event, for subscriptions that take `after`. */
  cursorOf?: (data: TResult) => string | undefined;
  status: (status: LiveStatus, detail?: string) => void;
  /** The client gave up: no session any more (SignedOutError), or retries ran out. */
  failed: (problem: unknown) => void;
}

export interface LiveSubscription {
  /** Close the socket for good (sign-out, leaving the page). */
  close: () => void;
}

/** taskql's HTTP endpoint → its WebSocket one: same host, port and path; http → ws, https → wss. */
export function websocketUrl(httpUrl: string): string {
  const url = new URL(httpUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function closeCode(problem: unknown): number | undefined {
  if (typeof problem === "object" && problem !== null && "code" in problem && "reason" in problem) {
    return typeof problem.code === "number" ? problem.code : undefined;
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One subscription on its own socket, reconnecting with a fresh token until closed. */
export function subscribeLive<TResult, TVariables>(
  url: string,
  tokens: Pick<TokenStore, "refresh">,
  operation: Operation<TResult, TVariables, "subscription">,
  variables: TVariables,
  handlers: LiveHandlers<TResult>,
): LiveSubscription {
  let closed = false;
  let lastClose: number | undefined;
  let forbidden = 0; // 4403 closes in a row
  // graphql-ws sends this same object again on every reconnection: `after` moves with each event.
  const payloadVariables: Record<string, unknown> = { ...(variables as Record<string, unknown>) };
  let unsubscribe: () => void = () => {};

  const report = (status: LiveStatus, detail?: string) => {
    if (!closed) handlers.status(status, detail);
  };

  const client = createClient({
    url: websocketUrl(url),
    // Called for every (re)connection: never a token that taskql already closed the socket for.
    connectionParams: async () => ({ Authorization: `Bearer ${await tokens.refresh()}` }),
    retryAttempts: RETRY_ATTEMPTS,
    retryWait: async (retries) => {
      // A token expiring is routine: come back at once (a little jitter spreads many tabs out).
      if (lastClose === TOKEN_EXPIRED && retries === 0) return sleep(Math.random() * 250);
      // Anything else (taskql restarting, the network gone): back off, up to 30 s between tries.
      return sleep(Math.min(30_000, 1000 * 2 ** retries) + Math.random() * 1000);
    },
    // Retry close events and network errors (graphql-ws's default gives up on the latter), but not
    // a missing session, nor a token taskql keeps refusing.
    shouldRetry: (problem) => {
      if (problem instanceof SignedOutError) return false;
      return !(closeCode(problem) === FORBIDDEN && forbidden > FORBIDDEN_ATTEMPTS);
    },
    on: {
      connecting: (isRetry) => report(isRetry ? "reconnecting" : "connecting"),
      connected: () => {
        forbidden = 0;
        report("live");
        if (!closed && payloadVariables.after === undefined) handlers.connected();
      },
      closed: (event) => {
        lastClose = closeCode(event);
        forbidden = lastClose === FORBIDDEN ? forbidden + 1 : 0;
        const reason = (event as { reason?: string } | null)?.reason;
        report("reconnecting", lastClose ? `${lastClose}${reason ? ` ${reason}` : ""}` : undefined);
      },
    },
  });

  const fail = (problem: unknown) => {
    if (closed) return;
    closed = true;
    handlers.status("offline", problem instanceof Error ? problem.message : describe(problem));
    handlers.failed(problem);
  };

  const subscribe = () => {
    // The document's id, not its text (taskql runs only trusted documents). graphql-ws wants a
    // `query` string in every subscribe payload, so it is sent empty beside the id.
    const payload = { query: "", documentId: operation.documentId, operationName: operation.name, variables: payloadVariables };
    unsubscribe = client.subscribe<TResult>(
      payload,
      {
        next: ({ data }) => {
          if (!data || closed) return;
          const cursor = handlers.cursorOf?.(data);
          if (cursor !== undefined) payloadVariables.after = cursor;
          handlers.next(data);
        },
        error: (problem) => {
          if (!closed && isCursorExpired(problem)) {
            // Away longer than taskql keeps events: refetch, and follow from now on.
            delete payloadVariables.after;
            handlers.connected();
            subscribe();
            return;
          }
          fail(problem);
        },
        complete: () => fail(new Error("taskql ended the subscription.")),
      },
    );
  };
  subscribe();

  return {
    close: () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      // A connection still being retried has nothing to close: ignore its failure.
      Promise.resolve(client.dispose()).catch(() => {});
    },
  };
}

function isCursorExpired(problem: unknown): boolean {
  return (
    Array.isArray(problem) &&
    problem.some((error: { extensions?: { code?: unknown } }) => error?.extensions?.code === "CURSOR_EXPIRED")
  );
}

function describe(problem: unknown): string {
  const code = closeCode(problem);
  if (code !== undefined) return `The socket closed with ${code}.`;
  if (Array.isArray(problem)) return problem.map((error: { message?: string }) => error.message).join(" ");
  return String(problem);
}
