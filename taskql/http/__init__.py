"""HTTP transport: GraphQL over HTTP, GraphiQL, and the ASGI layers around every request."""
