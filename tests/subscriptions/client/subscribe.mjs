// A front end's subscription with the graphql-ws client, as its docs recommend: `connectionParams`
// is a function, so every (re)connection fetches a fresh token, and a socket the server closes at
// the token's expiry comes back by itself.
//
// Usage: node subscribe.mjs '{"url": "ws://127.0.0.1:PORT/graphql", "query": "...",
//          "variables": {...}, "tokenUrl": "http://issuer/api/auth/token", "cookie": "...",
//          "origin": "http://issuer"}'
// Prints one JSON line per happening: token, connected, next, closed, error, complete.
// Exits when stdin closes (so it dies with its parent) and after 60 s whatever happens.

import { createClient } from "graphql-ws";
import WebSocket from "ws"; // Node 20 has no global WebSocket

const config = JSON.parse(process.argv[2]);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
let tokens = 0;

async function freshToken() {
  const response = await fetch(config.tokenUrl, {
    headers: { cookie: config.cookie, origin: config.origin },
  });
  if (!response.ok) throw new Error(`the token endpoint answered ${response.status}`);
  const { token } = await response.json();
  tokens += 1;
  emit({ event: "token", n: tokens });
  return token;
}

const client = createClient({
  url: config.url,
  webSocketImpl: WebSocket,
  connectionParams: async () => ({ Authorization: `Bearer ${await freshToken()}` }),
  // The default waits 1-4 s before a retry; the decision to retry is the same.
  retryWait: () => new Promise((resolve) => setTimeout(resolve, 100)),
  on: {
    connected: () => emit({ event: "connected", n: tokens }),
    closed: (event) => emit({ event: "closed", code: event.code, reason: event.reason }),
  },
});

client.subscribe(
  { query: config.query, variables: config.variables },
  {
    next: (value) => emit({ event: "next", value }),
    error: (error) => emit({ event: "error", error: error?.message ?? JSON.stringify(error) }),
    complete: () => emit({ event: "complete" }),
  },
);

function stop() {
  client.dispose();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.resume();
setTimeout(stop, 60_000);
