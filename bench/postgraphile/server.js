// PostGraphile v4 as bench/ measures it: library mode on node:http, JWT secret mode, row-level
// security doing the owner filter. Usage: node server.js --port N --max-seconds S, with
// BENCH_PG_DSN (a login role without RLS bypass), BENCH_PG_ROLE (the role every request runs as),
// BETTER_AUTH_SECRET (the HS256 secret) and BETTER_AUTH_URL (issuer and audience) set.
// Like bench/instrument.py's servers it stops by itself: a deadline, and death with its parent.
"use strict";

const http = require("node:http");
// Required before postgraphile, which calls `jwt.verify` through this same module object: the
// wrapper below meters the CPU it takes, as bench/instrument.py's JwtMeter does for Python.
const jwt = require("jsonwebtoken");
const { Pool } = require("pg");
const { postgraphile } = require("postgraphile");

function argument(name) {
  const index = process.argv.indexOf(name);
  if (index < 0 || index + 1 >= process.argv.length) throw new Error(`${name} is required`);
  return process.argv[index + 1];
}

function boundLifetime(maxSeconds) {
  setTimeout(() => process.kill(process.pid, "SIGTERM"), maxSeconds * 1000).unref();
  const parent = process.ppid;
  // Node has no prctl(PR_SET_PDEATHSIG): an orphan is reparented, so its ppid changes.
  setInterval(() => process.ppid !== parent && process.kill(process.pid, "SIGTERM"), 1000).unref();
  process.on("SIGTERM", () => {
    setTimeout(() => process.exit(3), 15000).unref();
    server.close(() => pool.end().then(() => process.exit(0)));
  });
}

const meter = { jwt_cpu_seconds: 0, verifications: 0 };
const verify = jwt.verify;
jwt.verify = function measuredVerify(...args) {
  // jsonwebtoken verifies an HS256 token synchronously, callback included.
  const started = process.cpuUsage();
  try {
    return verify.apply(this, args);
  } finally {
    const spent = process.cpuUsage(started);
    meter.jwt_cpu_seconds += (spent.user + spent.system) / 1e6;
    meter.verifications += 1;
  }
};

const env = process.env;
// As many connections as taskql's pool may open (10 + 10 overflow) and the floor's (20).
const pool = new Pool({ connectionString: env.BENCH_PG_DSN, max: 20 });
// The production option set of PostGraphile v4's CLI documentation (usage-cli, "For Production"),
// without subscriptions and plugins; query batching is on there, and unused here.
const graphql = postgraphile(pool, "public", {
  jwtSecret: env.BETTER_AUTH_SECRET,
  jwtVerifyOptions: {
    algorithms: ["HS256"], // jsonwebtoken has no EdDSA
    audience: env.BETTER_AUTH_URL,
    issuer: env.BETTER_AUTH_URL,
    clockTolerance: 30,
  },
  pgDefaultRole: env.BENCH_PG_ROLE,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  ignoreRBAC: false,
  extendedErrors: ["errcode"],
  graphiql: false,
  enableQueryBatching: true,
  disableQueryLog: true,
  legacyRelations: "omit",
});

const server = http.createServer((request, response) => {
  if (request.url === "/healthz" || request.url === "/bench-stats") {
    const body = request.url === "/healthz" ? { status: "ok" } : meter;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
    return;
  }
  graphql(request, response);
});

boundLifetime(Number(argument("--max-seconds")));
// Listen (and so answer /healthz) only once the schema is introspected and built.
graphql.getGraphQLSchema().then(
  () => server.listen(Number(argument("--port")), "127.0.0.1"),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
