import { headers } from "next/headers";
import { redirect } from "next/navigation";

import { TaskBoard } from "@/app/tasks/task-board";
import { getAuth } from "@/lib/auth/server";
import { readConfig } from "@/lib/config";

export default async function TasksPage() {
  const requestHeaders = await headers(); // first: it makes the page dynamic
  const session = await getAuth().api.getSession({ headers: requestHeaders });
  if (!session) redirect("/sign-in");
  const { id, email, name } = session.user;
  // Read per request (this page is dynamic), so TASKQL_URL is a run-time setting.
  return <TaskBoard taskqlUrl={readConfig().taskqlUrl} user={{ id, email, name }} />;
}
