/** Better Auth in the browser. Same origin as the app, so no baseURL: cookies do the rest. */

import { jwtClient } from "better-auth/client/plugins";
import { createAuthClient } from "better-auth/react";

export const authClient = createAuthClient({ plugins: [jwtClient()] });
