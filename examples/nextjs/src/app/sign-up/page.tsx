import { AuthForm } from "@/app/_components/auth-form";

export default function SignUpPage() {
  return <AuthForm mode="sign-up" />;
}
