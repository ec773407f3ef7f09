"use client";

import { useEffect, useEffectEvent, useState } from "react";

import { onSignedOut, tokens } from "@/lib/auth/session";
import { SignedOutError } from "@/lib/auth/tokens";
import { subscribeLive, type LiveStatus } from "@/lib/graphql/live";
import { TaskEvents, type TaskEventsResult } from "@/lib/graphql/operations.generated";

export type TaskEvent = TaskEventsResult["taskEvents"];

interface TaskEventsOptions {
  taskqlUrl: string;
  userId: string;
  /** A committed change to one of the user's tasks (made in this tab or anywhere else). */
  onEvent: (event: TaskEvent) => void;
  /** Connected with nothing to resume from (first, or after CURSOR_EXPIRED): refetch. Reconnections
   * resume after the last event's cursor instead, so taskql replays what happened meanwhile. */
  onConnected: () => void;
  /** No Better Auth session any more. */
  onSignInRequired: () => void;
  /** This tab or another one signed out: the socket is closed; stop any background work too. */
  onSignedOut: () => void;
}

export interface LiveState {
  status: LiveStatus;
  detail?: string;
  /** After the client gave up ("offline"): start over. */
  reconnect: () => void;
}

/** The user's `taskEvents`, live while the page is open; closed on sign-out in any tab. */
export function useTaskEvents(options: TaskEventsOptions): LiveState {
  const { taskqlUrl, userId, onEvent, onConnected, onSignInRequired, onSignedOut: onSignOut } = options;
  const [state, setState] = useState<{ status: LiveStatus; detail?: string }>({ status: "connecting" });
  const [attempt, setAttempt] = useState(0);
  const event = useEffectEvent(onEvent);
  const connected = useEffectEvent(onConnected);
  const signInRequired = useEffectEvent(onSignInRequired);
  const signedOut = useEffectEvent(onSignOut);

  useEffect(() => {
    const subscription = subscribeLive(taskqlUrl, tokens, TaskEvents, { userId }, {
      next: (data) => event(data.taskEvents),
      cursorOf: (data) => data.taskEvents.cursor,
      connected: () => connected(),
      status: (status, detail) => setState({ status, detail }),
      failed: (problem) => {
        if (problem instanceof SignedOutError) signInRequired();
      },
    });
    const stopListening = onSignedOut(() => {
      subscription.close();
      setState({ status: "offline", detail: "Signed out." });
      signedOut();
    });
    return () => {
      stopListening();
      subscription.close();
    };
  }, [taskqlUrl, userId, attempt]);

  return {
    ...state,
    reconnect: () => {
      setState({ status: "connecting" });
      setAttempt((count) => count + 1);
    },
  };
}
