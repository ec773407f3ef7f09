"""The routes a request can be handed to without asking the router, found once at startup."""

from __future__ import annotations

import inspect

from starlette.routing import Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Scope


def direct_routes(router: Router) -> dict[tuple[str, str], Route]:
    """(path, method) → the route the router would pick, for plain async-function routes
    without path parameters. The router tries each route's pattern in turn on every request;
    for these the answer depends on the path and method alone, so it is worked out here, by
    asking the routes in their order. Routes added later come after these and cannot win.
    """
    table: dict[tuple[str, str], Route] = {}
    for route in router.routes:
        if not _direct(route):
            continue
        assert isinstance(route, Route)  # noqa: S101 - _direct says so
        for method in route.methods or ():
            scope: Scope = {"type": "http", "path": route.path, "root_path": "", "method": method}
            if _winner(router, scope) is route:
                table.setdefault((route.path, method), route)
    return table


def _direct(route: object) -> bool:
    """A Route of Starlette's own (not FastAPI's, whose endpoints need dependency solving)
    whose endpoint is an async function of the request."""
    if type(route) is not Route or route.param_convertors:
        return False
    endpoint = route.endpoint
    return (inspect.isfunction(endpoint) or inspect.ismethod(endpoint)) and (
        inspect.iscoroutinefunction(endpoint)
    )


def _winner(router: Router, scope: Scope) -> object | None:
    for route in router.routes:
        if not isinstance(route, (Route, WebSocketRoute, Mount)):
            return None  # a Host, or a route of unknown kind: it may match on anything
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None
