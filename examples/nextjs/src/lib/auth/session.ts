/**
 * This tab's taskql credentials: one token store fed by Better Auth, and a sign-out that ends
 * API access in every tab of the browser. Signing out ends the session in Better Auth, and
 * taskql (with BETTER_AUTH_DATABASE_URL) refuses its tokens within SESSION_CHECK_SECONDS; the
 * tabs still forget the JWT and close their live sockets at once rather than wait for that.
 */

import { authClient } from "@/lib/auth/client";
import { TokenStore } from "@/lib/auth/tokens";

const CHANNEL = "taskql-auth";

async function fetchBetterAuthToken(): Promise<string | null> {
  const { data, error } = await authClient.token();
  if (error) {
    if (error.status === 401) return null;
    throw new Error(`Could not get a token from Better Auth (HTTP ${error.status}).`);
  }
  return data.token;
}

export const tokens = new TokenStore(fetchBetterAuthToken);

const signedOutListeners = new Set<() => void>();

/** Calls `listener` when this tab or another one signs out (e.g. to close a live socket). */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => {
    signedOutListeners.delete(listener);
  };
}

function forgetSession(): void {
  tokens.clear();
  for (const listener of [...signedOutListeners]) listener();
}

if (typeof window !== "undefined" && "BroadcastChannel" in window) {
  new BroadcastChannel(CHANNEL).onmessage = (event: MessageEvent<unknown>) => {
    if (event.data === "signed-out") forgetSession();
  };
}

export async function signOut(): Promise<void> {
  forgetSession();
  try {
    await authClient.signOut();
  } finally {
    const channel = new BroadcastChannel(CHANNEL);
    channel.postMessage("signed-out");
    channel.close();
  }
}

/** Forget any token of a previous user before a new sign-in or sign-up. */
export function forgetTokens(): void {
  tokens.clear();
}
