import { AuthForm } from "@/app/_components/auth-form";

const NOTICES: Record<string, string> = {
  "session-ended": "Your session has ended. Please sign in again.",
  "signed-out": "You have signed out.",
};

export default async function SignInPage({ searchParams }: PageProps<"/sign-in">) {
  const { reason } = await searchParams;
  const notice = typeof reason === "string" ? NOTICES[reason] : undefined;
  return <AuthForm mode="sign-in" notice={notice} />;
}
