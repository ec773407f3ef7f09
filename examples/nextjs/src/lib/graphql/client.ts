/**
 * A small typed GraphQL client for taskql. Every request carries `Authorization: Bearer <jwt>`;
 * a 401 is retried once with a fresh token, a second 401 means "sign in again", and a 403 is
 * reported as access denied (the user stays signed in).
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
  extensions?: { code?: string };
}

interface GraphQLResponse<TResult> {
  data?: TResult | null;
  errors?: GraphQLError[];
}

type Credentials = Pick<TokenStore, "get" | "refresh" | "clear">;

export interface TaskqlClient {
  /** Queries and mutations over HTTP; subscriptions need a WebSocket client. */
  request<TResult, TVariables>(
    operation: Operation<TResult, TVariables, "query" | "mutation">,
    variables: TVariables,
  ): Promise<TResult>;
}

export function createTaskqlClient(url: string, tokens: Credentials): TaskqlClient {
  async function send(operation: { name: string; query: string }, variables: unknown, fresh: boolean) {
    let token: string;
    try {
      token = fresh ? await tokens.refresh() : await tokens.get();
    } catch (error) {
      if (error instanceof SignedOutError) throw new SignInRequiredError();
      throw error;
    }
    return fetch(url, {
      method: "POST",
      headers: {
        accept: "application/graphql-response+json, application/json",
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ query: operation.query, variables, operationName: operation.name }),
    });
  }

  return {
    async request(operation, variables) {
      let response = await send(operation, variables, false);
      if (response.status === 401) response = await send(operation, variables, true);
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
  if (errors.length > 0 || body.data == null) {
    const message = errors.map((error) => error.message).join(" ") || `taskql answered HTTP ${response.status}.`;
    throw new TaskqlError(message, codes, response.status);
  }
  return body.data;
}
