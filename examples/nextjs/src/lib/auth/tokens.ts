/**
 * The bearer token for taskql: a JWT from Better Auth's `GET /api/auth/token`, kept in memory only
 * (never localStorage, where any script could read it) and renewed shortly before it expires.
 */

/** There is no Better Auth session: the user has to sign in. */
export class SignedOutError extends Error {
  constructor() {
    super("Not signed in.");
    this.name = "SignedOutError";
  }
}

/** Resolves to a fresh JWT, or null when there is no session. */
export type FetchToken = () => Promise<string | null>;

interface Cached {
  token: string;
  renewAt: number;
}

export class TokenStore {
  private cached: Cached | null = null;
  private pending: Promise<string> | null = null;
  // Bumped by clear(), so a fetch that was in flight at sign-out does not bring its token back.
  private generation = 0;

  constructor(
    private readonly fetchToken: FetchToken,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached token while it has time left, else a fresh one. */
  get(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return Promise.resolve(this.cached.token);
    return this.refresh();
  }

  /** A fresh token, whatever is cached (e.g. after taskql said 401). Concurrent callers share one fetch. */
  refresh(): Promise<string> {
    this.pending ??= this.load().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  clear(): void {
    this.generation += 1;
    this.cached = null;
    this.pending = null;
  }

  private async load(): Promise<string> {
    const generation = this.generation;
    const token = await this.fetchToken();
    if (generation !== this.generation) throw new SignedOutError();
    if (token === null) {
      this.cached = null;
      throw new SignedOutError();
    }
    this.cached = { token, renewAt: this.now() + renewAfterMs(token) };
    return token;
  }
}

/**
 * How long a token just received may be used: its lifetime minus a margin of a fifth of it, at most
 * a minute (so a 15-minute token is renewed after 14). The lifetime is `exp - iat`, both from the
 * issuer's clock, so a browser clock that is off does not matter.
 */
export function renewAfterMs(token: string): number {
  const { iat, exp } = readClaims(token);
  const lifetime = exp - iat;
  const margin = Math.min(60, lifetime / 5);
  return Math.max(0, (lifetime - margin) * 1000);
}

function readClaims(token: string): { iat: number; exp: number } {
  const payload = token.split(".")[1];
  if (!payload) throw new Error("Better Auth returned something that is not a JWT.");
  const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
  const claims: unknown = JSON.parse(json);
  if (typeof claims !== "object" || claims === null) throw new Error("JWT claims are not an object.");
  const { iat, exp } = claims as { iat?: unknown; exp?: unknown };
  if (typeof exp !== "number") throw new Error("JWT has no exp claim.");
  return { iat: typeof iat === "number" ? iat : Math.floor(Date.now() / 1000), exp };
}
