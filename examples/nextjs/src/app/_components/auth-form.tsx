"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import { authClient } from "@/lib/auth/client";
import { forgetTokens } from "@/lib/auth/session";

type Mode = "sign-in" | "sign-up";

export function AuthForm({ mode, notice }: { mode: Mode; notice?: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signingUp = mode === "sign-up";

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "");
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    forgetTokens();
    const { error } = signingUp
      ? await authClient.signUp.email({ email, password, name: String(form.get("name") ?? "") })
      : await authClient.signIn.email({ email, password });
    setBusy(false);
    if (error) {
      setError(error.message ?? `Better Auth answered HTTP ${error.status}.`);
      return;
    }
    router.replace("/tasks");
    router.refresh();
  }

  return (
    <section className="card narrow">
      <h1>{signingUp ? "Create an account" : "Sign in"}</h1>
      {notice && <p className="notice" role="status">{notice}</p>}
      <form onSubmit={submit}>
        {signingUp && (
          <>
            <label htmlFor="name">Name</label>
            <input id="name" name="name" type="text" autoComplete="name" required />
          </>
        )}
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="email" required />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete={signingUp ? "new-password" : "current-password"}
          minLength={8}
          required
        />
        {error && <p className="alert" role="alert">{error}</p>}
        <div className="actions">
          <button className="primary" type="submit" disabled={busy}>
            {signingUp ? "Sign up" : "Sign in"}
          </button>
          {signingUp ? (
            <Link href="/sign-in">I already have an account</Link>
          ) : (
            <Link href="/sign-up">Create an account</Link>
          )}
        </div>
      </form>
    </section>
  );
}
