// A real Better Auth server (in-memory, JWT plugin) for taskql's interop tests.
//
// Usage: node issuer.mjs [--port 0] [--alg EdDSA] [--rotation-interval S] [--grace-period S]
//                        [--issuer URL] [--audience A | --audience '["a","b"]']
//                        [--expiration-time 15m] [--payload default|narrow|sid] [--modulus-length N]
//                        [--database-url postgresql://...]
// Every option can also come from the environment: ISSUER_PORT, ISSUER_ALG,
// ISSUER_ROTATION_INTERVAL, ISSUER_GRACE_PERIOD, ISSUER_ISSUER, ISSUER_AUDIENCE,
// ISSUER_EXPIRATION_TIME, ISSUER_PAYLOAD, ISSUER_MODULUS_LENGTH, ISSUER_DATABASE_URL; argv wins.
// Without --database-url its state is in memory; with one, Better Auth keeps it in that PostgreSQL
// database through `pg` (its tables made by Better Auth's own migrations at start), as a real
// deployment does, so taskql's session check can read the `session` table. The secret comes
// from ISSUER_SECRET (a fixed test string by default).
//
// It listens on 127.0.0.1 only, serves Better Auth under /api/auth/*, and prints exactly one line
// to stdout when ready: {"ready":true,"url":"http://127.0.0.1:PORT", ...}. Everything else (Better
// Auth's logger included) goes to stderr. It exits when stdin closes (so it dies with its parent;
// set ISSUER_WATCH_STDIN=0 to run it by hand in the background) and on SIGTERM/SIGINT.
//
// Test-only extra: POST /test/sign-jwt {"payload": {...}, "overrideOptions": {...}} signs an
// arbitrary payload with the issuer's current key through Better Auth's own server-only
// signJWT endpoint, so tests can mint expired / wrong-audience / sub-less tokens with real keys.

import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins/jwt";

const ALGS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  ES512: { alg: "ES512" },
  RS256: { alg: "RS256" },
  PS256: { alg: "PS256" },
};

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf("=");
    if (eq !== -1) {
      out[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${arg}`);
      out[arg.slice(2)] = argv[++i];
    }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
function opt(name) {
  const envName = `ISSUER_${name.toUpperCase().replaceAll("-", "_")}`;
  const value = args[name] ?? process.env[envName];
  return value === undefined || value === "" ? undefined : value;
}
function seconds(name) {
  const raw = opt(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number of seconds, got ${raw}`);
  return n;
}

const algName = opt("alg") ?? "EdDSA";
const keyPairConfig = ALGS[algName] && { ...ALGS[algName] };
if (!keyPairConfig) throw new Error(`unsupported --alg ${algName}; choose one of ${Object.keys(ALGS).join(", ")}`);
const modulusLength = opt("modulus-length");
if (modulusLength !== undefined && (algName.startsWith("RS") || algName.startsWith("PS"))) {
  keyPairConfig.modulusLength = Number(modulusLength);
}

const port = Number(opt("port") ?? 0);
const rotationInterval = seconds("rotation-interval");
const gracePeriod = seconds("grace-period");
const issuer = opt("issuer");
let audience = opt("audience");
if (audience !== undefined && audience.trim().startsWith("[")) audience = JSON.parse(audience);
let expirationTime = opt("expiration-time");
// Better Auth treats a *number* as an absolute exp timestamp; a bare number here means seconds.
if (expirationTime !== undefined && /^\d+$/.test(expirationTime)) expirationTime = `${expirationTime}s`;
const payloadMode = opt("payload") ?? "default";
if (!["default", "narrow", "sid"].includes(payloadMode)) throw new Error(`--payload must be default, narrow or sid`);
const databaseUrl = opt("database-url");
const secret = process.env.ISSUER_SECRET || "taskql-interop-test-secret-0123456789abcdef";
if (secret.length < 32) throw new Error("ISSUER_SECRET must be at least 32 characters");

const jwksOptions = { keyPairConfig };
if (rotationInterval !== undefined) jwksOptions.rotationInterval = rotationInterval;
if (gracePeriod !== undefined) jwksOptions.gracePeriod = gracePeriod;
const jwtOptions = {};
if (issuer !== undefined) jwtOptions.issuer = issuer;
if (audience !== undefined) jwtOptions.audience = audience;
if (expirationTime !== undefined) jwtOptions.expirationTime = expirationTime;
if (payloadMode === "narrow") {
  jwtOptions.definePayload = ({ user }) => ({ email: user.email, name: user.name });
}
if (payloadMode === "sid") {
  // The default claims (the user row), plus the session id taskql checks sign-outs by.
  jwtOptions.definePayload = ({ user, session }) => ({ ...user, sid: session.id });
}

async function database() {
  if (databaseUrl === undefined) {
    return memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] });
  }
  const { default: pg } = await import("pg");
  return new pg.Pool({ connectionString: databaseUrl, max: 4 });
}

let nodeHandler = null;
let auth = null;

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/test/sign-jwt") {
      const body = await readJson(req);
      const result = await auth.api.signJWT({
        body: { payload: body.payload ?? {}, overrideOptions: body.overrideOptions },
      });
      sendJson(res, 200, result);
      return;
    }
    if (req.url.startsWith("/api/auth/") || req.url === "/api/auth") {
      await nodeHandler(req, res);
      return;
    }
    sendJson(res, 404, { error: "not found" });
  } catch (err) {
    process.stderr.write(`issuer: request ${req.method} ${req.url} failed: ${err?.stack ?? err}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: String(err?.message ?? err) });
    else res.destroy();
  }
});

let stopping = false;
function shutdown(reason, code = 0) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`issuer: shutting down (${reason})\n`);
  server.close(() => process.exit(code));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(code), 1000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
if (process.env.ISSUER_WATCH_STDIN !== "0") {
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.on("close", () => shutdown("stdin closed"));
  process.stdin.on("error", () => shutdown("stdin error"));
  process.stdin.resume();
}

server.on("error", (err) => {
  process.stderr.write(`issuer: server error: ${err?.stack ?? err}\n`);
  process.exit(1);
});

const store = await database();
server.listen(port, "127.0.0.1", async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  auth = betterAuth({
    baseURL: url,
    basePath: "/api/auth",
    secret,
    trustedOrigins: [url],
    database: store,
    emailAndPassword: { enabled: true },
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: {
      level: process.env.ISSUER_LOG_LEVEL || "warn",
      log: (level, message, ...rest) => {
        const extra = rest.length ? ` ${rest.map((r) => (r instanceof Error ? r.stack : JSON.stringify(r))).join(" ")}` : "";
        process.stderr.write(`better-auth ${level}: ${message}${extra}\n`);
      },
    },
    plugins: [jwt({ jwks: jwksOptions, jwt: jwtOptions })],
  });
  if (databaseUrl !== undefined) {
    const { runMigrations } = await getMigrations(auth.options);
    await runMigrations();
  }
  nodeHandler = toNodeHandler(auth);
  process.stdout.write(
    `${JSON.stringify({
      ready: true,
      url,
      alg: algName,
      rotationInterval: rotationInterval ?? null,
      gracePeriod: gracePeriod ?? null,
      pid: process.pid,
    })}\n`,
  );
});
