"""taskql: a GraphQL task API that trusts the JWTs a Better Auth front end issues."""
