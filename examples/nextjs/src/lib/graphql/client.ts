/**
 * A small typed GraphQL client for taskql. Every request carries `Authorization: Bearer <jwt>`;
 * a 401 is retried once with a fresh token, a second 401 means "sign in again", and a 403 is
 * reported as access denied (the user stays signed in). A mutation sent with an Idempotency-Key
 * is retried with the same key when the network fails or taskql asks to (503, or 409 with
 * Retry-After while the first attempt still runs): taskql runs it once, whatever happens.
 */

import { SignedOutError, type TokenStore } from "@/lib/auth/tokens";
import type { Operation } from "@/lib/graphql/operations.generated";

export const ACCESS_DENIED_MESSAGE = "Access denied. You can only access your own resources.";

/** taskql refused our credentials even with a fresh token, or there is no session any more. */
export class SignInRequiredError extends Error {
  constructor() {
    super("Your session has ended. Please sign in again.");
    this.name = "SignInRequiredError";
  }
}

/** taskql said FORBIDDEN: the request named another user's resources. */
export class AccessDeniedError extends Error {
  constructor() {
    super(ACCESS_DENIED_MESSAGE);
    this.name = "AccessDeniedError";
  }
}

/** taskql said CONFLICT: the task changed since we read it, and nothing was written. */
export class ConflictError extends Error {
  constructor(readonly currentVersion: number | null) {
    super("This task was changed elsewhere.");
    this.name = "ConflictError";
  }
}

/** Any other GraphQL or HTTP error; `codes` are taskql's `extensions.code` values. */
export class TaskqlError extends Error {
  constructor(
    message: string,
    readonly codes: string[],
    readonly status: number,
  ) {
    super(message);
    this.name = "TaskqlError";
  }
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string; currentVersion?: number };
}

interface GraphQLResponse<TResult> {
  data?: TResult | null;
  errors?: GraphQLError[];
}

type Credentials = Pick<TokenStore, "get" | "refresh" | "clear">;

export interface RequestOptions {
  /** One per user action (a click, a submit), never reused for another: see newIdempotencyKey. */
  idempotencyKey?: string;
}

export interface TaskqlClient {
  /** Queries and mutations over HTTP; subscriptions need a WebSocket client. */
  request<TResult, TVariables>(
    operation: Operation<TResult, TVariables, "query" | "mutation">,
    variables: TVariables,
    options?: RequestOptions,
  ): Promise<TResult>;
}

/** A fresh Idempotency-Key: taskql keeps the first answer to a key and gives it to every retry. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

const KEYED_ATTEMPTS = 4;
const RETRY_DELAY_MS = 500;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createTaskqlClient(url: string, tokens: Credentials): TaskqlClient {
  async function send(
    operation: { name: string; documentId: string },
    variables: unknown,
    fresh: boolean,
    key: string | undefined,
  ): Promise<Response> {
    let token: string;
    try {
      token = fresh ? await tokens.refresh() : await tokens.get();
    } catch (error) {
      if (error instanceof SignedOutError) throw new SignInRequiredError();
      throw error;
    }
    const headers: Record<string, string> = {
      accept: "application/graphql-response+json, application/json",
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    };
    if (key) headers["idempotency-key"] = key;
    // The document's id, not its text: taskql runs only the documents its manifest trusts.
    const body = JSON.stringify({ documentId: operation.documentId, variables, operationName: operation.name });
    if (!key) return fetch(url, { method: "POST", headers, body });
    // With a key, a retry is safe: a lost answer, a 503 or a first attempt still running.
    for (let attempt = 1; ; attempt += 1) {
      const last = attempt === KEYED_ATTEMPTS;
      try {
        const response = await fetch(url, { method: "POST", headers, body });
        const again = response.status === 503 || (response.status === 409 && response.headers.has("retry-after"));
        if (!again || last) return response;
      } catch (failure) {
        if (last) throw failure;
      }
      await pause(RETRY_DELAY_MS * attempt);
    }
  }

  return {
    async request(operation, variables, options = {}) {
      const key = options.idempotencyKey;
      let response = await send(operation, variables, false, key);
      if (response.status === 401) response = await send(operation, variables, true, key);
      if (response.status === 401) {
        tokens.clear();
        throw new SignInRequiredError();
      }
      if (response.status === 403) throw new AccessDeniedError();
      return readResult(response);
    },
  };
}

async function readResult<TResult>(response: Response): Promise<TResult> {
  let body: GraphQLResponse<TResult>;
  try {
    body = (await response.json()) as GraphQLResponse<TResult>;
  } catch {
    throw new TaskqlError(`taskql answered HTTP ${response.status} without a GraphQL body.`, [], response.status);
  }
  const errors = body.errors ?? [];
  const codes = errors.map((error) => error.extensions?.code ?? "UNKNOWN");
  if (codes.includes("FORBIDDEN")) throw new AccessDeniedError();
  const conflict = errors.find((error) => error.extensions?.code === "CONFLICT");
  if (conflict) throw new ConflictError(conflict.extensions?.currentVersion ?? null);
  if (errors.length > 0 || body.data == null) {
    const message = errors.map((error) => error.message).join(" ") || `taskql answered HTTP ${response.status}.`;
    throw new TaskqlError(message, codes, response.status);
  }
  return body.data;
}
