/**
 * Better Auth on the server: email + password, sessions in PostgreSQL through `pg` (pure
 * JavaScript, nothing to compile or download), and the JWT plugin in its default JWKS mode
 * (EdDSA keys stored in the database, public keys served at /api/auth/jwks for taskql).
 *
 * Every JWT also names its session (`sid`): taskql, given this database as
 * BETTER_AUTH_DATABASE_URL, refuses a token once its session has ended (sign-out,
 * revokeSession(s), a ban) within SESSION_CHECK_SECONDS, instead of at the token's `exp`.
 */

import { betterAuth, type BetterAuthOptions } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { jwt } from "better-auth/plugins/jwt";
import { Pool } from "pg";

import { readConfig } from "@/lib/config";

function authOptions() {
  const config = readConfig();
  return {
    baseURL: config.baseUrl,
    secret: config.secret,
    database: new Pool({ connectionString: config.databaseUrl }),
    emailAndPassword: { enabled: true },
    plugins: [
      jwt({
        jwt: {
          expirationTime: config.jwtExpirationTime,
          // The default claims (the user row) plus the session id.
          definePayload: ({ user, session }) => ({ ...user, sid: session.id }),
        },
      }),
    ],
    telemetry: { enabled: false },
  } satisfies BetterAuthOptions;
}

function createAuth() {
  return betterAuth(authOptions());
}

type Auth = ReturnType<typeof createAuth>;

// Created on first use, not at import: `next build` imports this module without the run-time
// environment, and one instance (one pool) must serve every route of the process.
const holder = globalThis as typeof globalThis & { __taskqlAuth?: Auth };

export function getAuth(): Auth {
  holder.__taskqlAuth ??= createAuth();
  return holder.__taskqlAuth;
}

/** Create or update Better Auth's tables (user, session, account, verification, jwks). */
export async function migrateAuthDatabase(): Promise<void> {
  const { runMigrations } = await getMigrations(getAuth().options);
  await runMigrations();
}
