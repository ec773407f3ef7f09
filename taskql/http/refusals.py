"""The error contract's refusals as HTTP responses (SPEC §3): the one way a whole response that
is an error is written, so the access log and metrics learn its code from here."""

from __future__ import annotations

import orjson
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from auth.errors import AuthError, AuthUnavailable
from contract.errors import Code, Refusal, note_outcome
from taskql.http.media import JSON, negotiate


def refusal_response(request: Request, refusal: Refusal, media_type: str | None = None) -> Response:
    note_outcome(request.scope, [refusal.code.value], refusal.reason)
    chosen = media_type or negotiate(request.headers.get("accept")) or JSON
    return Response(refusal.body, refusal.status, dict(refusal.headers), media_type=chosen)


def auth_refusal(exc: AuthError) -> Refusal:
    return Refusal.of(Code.UNAUTHENTICATED, exc.message, reason=exc.reason)


async def auth_error_response(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AuthError):  # registered for AuthError only
        raise exc
    return refusal_response(request, auth_refusal(exc))


async def auth_unavailable_response(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AuthUnavailable):  # registered for AuthUnavailable only
        raise exc
    return refusal_response(request, Refusal.of(Code.SERVICE_UNAVAILABLE))


async def http_error_response(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException (routing's 404 and 405), its JSON by orjson."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=exc.headers)
    body = orjson.dumps({"detail": exc.detail})
    return Response(body, exc.status_code, exc.headers, media_type=JSON)
