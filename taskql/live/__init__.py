"""Live updates: graphql-transport-ws sockets and the PostgreSQL event transport."""
