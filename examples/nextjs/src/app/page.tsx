import { headers } from "next/headers";
import { redirect } from "next/navigation";

import { getAuth } from "@/lib/auth/server";

export default async function Home() {
  const requestHeaders = await headers(); // first: it makes the page dynamic
  const session = await getAuth().api.getSession({ headers: requestHeaders });
  redirect(session ? "/tasks" : "/sign-in");
}
