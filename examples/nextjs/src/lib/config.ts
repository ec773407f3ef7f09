/**
 * The app's server-side settings, read from the environment at run time. Nothing here is a
 * NEXT_PUBLIC_ variable, so one `next build` serves any taskql URL or port.
 */

export interface AppConfig {
  /** Better Auth's base URL: exactly the origin the browser uses. It becomes the JWT's iss and aud. */
  baseUrl: string;
  /** Better Auth's own database (users, sessions, JWKS keys), through `pg`. */
  databaseUrl: string;
  /** Signs session cookies; Better Auth refuses a missing one in production. */
  secret: string | undefined;
  /** The JWT lifetime, in Better Auth's format ("15m", "30s"). */
  jwtExpirationTime: string;
  /** taskql's GraphQL endpoint, called by the browser with `Authorization: Bearer <jwt>`. */
  taskqlUrl: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    baseUrl: env.BETTER_AUTH_URL || "http://localhost:3000",
    databaseUrl: env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/taskql_auth",
    secret: env.BETTER_AUTH_SECRET || undefined,
    jwtExpirationTime: env.JWT_EXPIRATION_TIME || "15m",
    taskqlUrl: env.TASKQL_URL || "http://127.0.0.1:8000/graphql",
  };
}
