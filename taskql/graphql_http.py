"""GraphQL over HTTP as its specification says, plus taskql's status rules (SPEC §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from graphql import GraphQLError
from starlette.requests import HTTPConnection
from starlette.routing import Route
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from auth.context import Context
from taskql.errors import auth_headers
from taskql.graphiql import graphiql_response
from taskql.media import GRAPHQL_RESPONSE, JSON, negotiate
from taskql.websocket import LiveConnections, TaskqlTransportWSHandler

RETRY_AFTER_SECONDS = "2"


def is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable errors: execution never started, so there is no data."""
    errors = result.errors or ()
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def status_for(result: ExecutionResult, media_type: str) -> tuple[int, dict[str, str]]:
    errors: Sequence[GraphQLError] = result.errors or ()
    codes = [(error.extensions or {}).get("code") for error in errors]
    if "UNAUTHENTICATED" in codes:
        return 401, auth_headers(None)
    if "SERVICE_UNAVAILABLE" in codes:
        return 503, {"Retry-After": RETRY_AFTER_SECONDS}
    if result.data is not None or not errors:
        return 200, {}
    if all(code == "FORBIDDEN" for code in codes):
        return 403, {}
    if is_request_error(result):
        if "BAD_REQUEST" in codes:
            return 400, {}
        return (400 if media_type == GRAPHQL_RESPONSE else 200), {}
    if "INTERNAL_SERVER_ERROR" in codes:
        return 500, {}
    return 200, {}


async def _method_not_allowed() -> JSONResponse:
    return JSONResponse(
        error_body("GraphQL is served over GET (queries) and POST.", "BAD_REQUEST"),
        status_code=405,
        headers={"Allow": "GET, POST"},
    )


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


ContextLoader = Callable[[HTTPConnection], AsyncIterator[Context]]


class TaskqlGraphQLRouter(GraphQLRouter[Context, None]):
    """Strawberry's router with content negotiation and the contract's status codes, and
    subscriptions over graphql-transport-ws only (SPEC §7).

    GET and POST are served by `http_route`, a plain Starlette route that builds the context
    itself: FastAPI's dependency solving around Strawberry's own GET/POST routes was about a
    tenth of a request's CPU. WebSockets keep Strawberry's route.
    """

    graphql_transport_ws_handler_class = TaskqlTransportWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        *,
        path: str = "/graphql",
        graphiql_development: bool = False,
        graphiql_persist_headers: bool = False,
        context_getter: ContextLoader,
        live: LiveConnections | None = None,
        ws_init_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            schema,
            path=path,
            # An async generator, which FastAPI runs as a dependency with cleanup (WebSockets).
            context_getter=context_getter,  # type: ignore[arg-type]
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=ws_init_timeout),
            max_subscriptions_per_connection=None,  # TaskqlTransportWSHandler counts, with a code
            **kwargs,
        )
        self.live = live or LiveConnections(max_per_user=10, max_subscriptions=20)
        self.graphiql_development = graphiql_development
        self.graphiql_persist_headers = graphiql_persist_headers
        self._http_context = asynccontextmanager(context_getter)
        self.routes[:] = [
            route
            for route in self.routes
            if not (isinstance(route, APIRoute) and route.path == path)
        ]
        self.http_route = Route(path, self._serve_http, methods=["GET", "POST"])
        self.http_route.methods = {"GET", "POST"}  # no implicit HEAD: it is a 405 like PUT
        # Starlette would answer other methods with the Allow of the first route only.
        self.add_api_route(
            path,
            _method_not_allowed,
            methods=["PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )

    async def _serve_http(self, request: Request) -> Response:
        sub_response = Response()
        del sub_response.headers["content-length"]  # the real response sets its own
        request.state.graphql_sub_response = sub_response
        async with self._http_context(request) as context:
            context.request, context.response = request, sub_response
            response = await self.run(request, context, None)
        assert isinstance(response, Response)  # noqa: S101 - HTTP in, HTTP out
        return response

    async def get_sub_response(self, request: Request) -> Response:
        """This request's own (Strawberry's FastAPI router shares one across requests)."""
        response: Response = request.state.graphql_sub_response
        return response

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """connection_init: a bad or missing token closes 4403 before any subscription starts."""
        await self.live.admit(context)
        return UnsetType()  # the singleton UNSET: connection_ack without a payload

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """Our own GraphiQL page: every asset from this origin, under a strict CSP."""
        return graphiql_response(
            development=self.graphiql_development,
            persist_headers=self.graphiql_persist_headers,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        media_type = getattr(request.state, "graphql_media_type", JSON)
        request.state.graphql_status = status_for(result, media_type)
        response = await super().process_result(request, result)
        if is_request_error(result):
            response.pop("data", None)
        return response

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None and not self._wants_ide(request):
            return JSONResponse(
                error_body(f"Acceptable media types: {GRAPHQL_RESPONSE}, {JSON}", "BAD_REQUEST"),
                status_code=406,
            )
        request.state.graphql_media_type = media_type or JSON
        try:
            response = await super().run(request, context, root_value)
        except HTTPException as exc:
            return self._http_error(request, exc)
        outcome = getattr(request.state, "graphql_status", None)
        if outcome is not None:
            status, headers = outcome
            response.status_code = status
            response.headers.update(headers)
            response.headers["content-type"] = request.state.graphql_media_type
        return response

    def encode_json(self, data: object) -> str:
        # A page of tasks encodes in a fraction of the stdlib encoder's time (UTF-8, not \u).
        # A str, not bytes: Strawberry sends bytes over a WebSocket as binary frames, which
        # graphql-transport-ws clients refuse.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses, as a JSONDecodeError (so 400), what the stdlib decoder would turn into
        # a 500 later: nesting deeper than 1024, numbers of over 4300 digits, and lone surrogates
        # (no character: neither PostgreSQL nor orjson's encoder takes them).
        return orjson.loads(data)

    def _wants_ide(self, request: Request) -> bool:
        return request.method == "GET" and "text/html" in request.headers.get("accept", "")

    def _http_error(self, request: Request, exc: HTTPException) -> Response:
        status, headers = exc.status_code, {}
        if request.method == "GET" and "mutation" in exc.reason.lower():
            status, headers = 405, {"Allow": "POST"}
        elif status == 405:
            headers = {"Allow": "GET, POST"}
        return JSONResponse(
            error_body(exc.reason, "BAD_REQUEST"),
            status_code=status,
            headers=headers,
            media_type=request.state.graphql_media_type,
        )
