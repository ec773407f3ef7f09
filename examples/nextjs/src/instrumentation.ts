/** Runs once when the Next.js server starts, before it serves a request. */

export async function register(): Promise<void> {
  // The database driver needs Node.js; the build phase has no database to talk to.
  if (process.env.NEXT_RUNTIME !== "nodejs" || process.env.NEXT_PHASE === "phase-production-build") {
    return;
  }
  const { migrateAuthDatabase } = await import("@/lib/auth/server");
  await migrateAuthDatabase();
}
