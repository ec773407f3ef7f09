/**
 * This tab's taskql credentials: one token store fed by Better Auth, and a sign-out that ends
 * API access in every tab of the browser (the JWT itself stays valid at taskql until it expires,
 * so the tabs must forget it).
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

if (typeof window !== "undefined" && "BroadcastChannel" in window) {
  new BroadcastChannel(CHANNEL).onmessage = (event: MessageEvent<unknown>) => {
    if (event.data === "signed-out") tokens.clear();
  };
}

export async function signOut(): Promise<void> {
  tokens.clear();
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
