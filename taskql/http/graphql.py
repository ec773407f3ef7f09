"""GraphQL over HTTP as its specification says, plus taskql's status rules (SPEC §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, WebSocket
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from graphql import GraphQLError
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.routing import Route
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from contract.errors import Code, Refusal, graphql_status, note_outcome
from schema.context import Context
from taskql.documents import DocumentRefused, TrustedDocuments
from taskql.http.graphiql import graphiql_response
from taskql.http.idempotency import IdempotencyKeys
from taskql.http.media import GRAPHQL_RESPONSE, JSON, negotiate
from taskql.http.refusals import refusal_response
from taskql.live.websocket import LiveConnections, TaskqlTransportWSHandler

SUBSCRIPTIONS_OVER_HTTP = "Subscriptions are served over WebSocket (graphql-transport-ws) only."
CLIENT_CLOSED = 499  # nginx's "client closed request": the client left before its answer


def is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable errors: execution never started, so there is no data."""
    errors = result.errors or ()
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def _codes(errors: Sequence[GraphQLError]) -> list[str]:
    return [str((error.extensions or {}).get("code")) for error in errors]


def _reason(errors: Sequence[GraphQLError]) -> str | None:
    """Why a token was refused, when one of the errors says so."""
    for error in errors:
        extensions = error.extensions or {}
        if extensions.get("code") == Code.UNAUTHENTICATED:
            return str(extensions.get("reason"))
    return None


async def _method_not_allowed(request: Request) -> Response:
    refusal = Refusal.of(
        Code.BAD_REQUEST,
        "GraphQL is served over GET (queries) and POST.",
        status=405,
        headers={"Allow": "GET, POST"},
    )
    return refusal_response(request, refusal)


def _request_data(data: object, documents: TrustedDocuments) -> GraphQLRequestData:
    """One operation of a JSON body or a GET query string, its members of the right types,
    running the document it names (its `query`, or a trusted document's, SPEC §9)."""
    if not isinstance(data, dict):
        raise HTTPException(400, "The request body must be a JSON object.")
    members = {
        "query": (str, "a string"),
        "documentId": (str, "a string"),
        "operationName": (str, "a string"),
        "variables": (dict, "an object"),
        "extensions": (dict, "an object"),
    }
    for name, (kind, wording) in members.items():
        if not isinstance(data.get(name), (kind, type(None))):
            raise HTTPException(
                400, f"The GraphQL operation's `{name}` must be {wording} or null, if provided."
            )
    return GraphQLRequestData(
        query=documents.resolve(data),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
        protocol="http",
    )


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
        idempotency: IdempotencyKeys | None = None,
        documents: TrustedDocuments | None = None,
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
        self.idempotency = idempotency
        self.documents = documents or TrustedDocuments()
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
        try:
            async with self._http_context(request) as context:
                context.request, context.response = request, sub_response
                response = await self.run(request, context, None)
        except ClientDisconnect:
            # The client hung up mid-body: nobody is left to answer, and it is not our fault.
            return Response(status_code=CLIENT_CLOSED)
        assert isinstance(response, Response)  # noqa: S101 - HTTP in, HTTP out
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's parsing, stricter: a body or query string that is not one JSON object
        of the right member types is a 400 (Strawberry's own would be a 500), media types are
        compared case-insensitively (RFC 9110), and nothing streams over HTTP."""
        if request.method == "GET":
            data: object = self.parse_query_params(request.query_params)
        else:
            media_type = (request.content_type or "").partition(";")[0].strip().lower()
            if media_type != JSON:
                raise HTTPException(400, "Unsupported content type")
            data = self.parse_json(await request.get_body())
        if isinstance(data, list):
            batch = [_request_data(item, self.documents) for item in data]
            self._validate_batch_request(batch, protocol="http")
            return batch
        return _request_data(data, self.documents)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A GET naming a document by id is an operation, not a visit to GraphiQL."""
        params = request.query_params
        return (
            params.get("documentId") is None
            and params.get("extensions") is None
            and super().should_render_graphql_ide(request)
        )

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
        errors = result.errors or ()
        codes = _codes(errors)
        request_error = is_request_error(result)
        note_outcome(request.scope, codes, _reason(errors))
        request.state.graphql_status = graphql_status(
            codes,
            has_data=result.data is not None,
            request_error=request_error,
            strict_media=media_type == GRAPHQL_RESPONSE,
        )
        response = await super().process_result(request, result)
        if request_error:
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
            refusal = Refusal.of(
                Code.BAD_REQUEST, f"Acceptable media types: {GRAPHQL_RESPONSE}, {JSON}", status=406
            )
            return refusal_response(request, refusal)
        request.state.graphql_media_type = media_type or JSON
        keyed = await self.idempotency.begin(request, context) if self.idempotency else None
        if isinstance(keyed, Response):
            return keyed  # a replay, or a refusal of the key
        try:
            response = await self._run_http(request, context, root_value)
        except BaseException:
            if keyed is not None:
                await keyed.abandon(context)
            raise
        return response if keyed is None else await keyed.finish(request, context, response)

    async def _run_http(self, request: Request, context: Context, root_value: None) -> Response:
        try:
            response = await super().run(request, context, root_value)
        except HTTPException as exc:
            return self._http_error(request, exc)
        except DocumentRefused as refused:
            return refusal_response(request, refused.refusal, request.state.graphql_media_type)
        assert isinstance(response, Response)  # noqa: S101 - HTTP in, HTTP out
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
        reason, refused = exc.reason, exc.__cause__
        if isinstance(refused, InvalidOperationTypeError):
            if refused.operation_type is OperationType.SUBSCRIPTION:
                reason = SUBSCRIPTIONS_OVER_HTTP
            elif request.method == "GET":  # a mutation: GraphQL over HTTP says 405
                status, headers = 405, {"Allow": "POST"}
        elif status == 405:
            headers = {"Allow": "GET, POST"}
        refusal = Refusal.of(Code.BAD_REQUEST, reason, status=status, headers=headers)
        return refusal_response(request, refusal, request.state.graphql_media_type)
