/** Better Auth's endpoints under /api/auth: sign-up, sign-in, sign-out, token, jwks, ... */

import { toNextJsHandler } from "better-auth/next-js";

import { getAuth } from "@/lib/auth/server";

function handle(request: Request): Promise<Response> {
  return getAuth().handler(request);
}

export const { GET, POST } = toNextJsHandler(handle);
