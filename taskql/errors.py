"""Authentication failures to HTTP: one place that writes 401 responses (SPEC §3, RFC 6750)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from auth.errors import AuthError
from taskql.media import JSON, negotiate


def auth_headers(error: AuthError | None) -> dict[str, str]:
    challenge = 'Bearer error="invalid_token"'
    if error is not None and error.reason != "missing_header":
        challenge += f', error_description="{error.message}"'
    return {"WWW-Authenticate": challenge}


async def auth_error_response(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AuthError):  # registered for AuthError only
        raise exc
    body = {
        "errors": [
            {
                "message": exc.message,
                "extensions": {"code": "UNAUTHENTICATED", "reason": exc.reason},
            }
        ]
    }
    media_type = negotiate(request.headers.get("accept")) or JSON
    return JSONResponse(body, status_code=401, headers=auth_headers(exc), media_type=media_type)
