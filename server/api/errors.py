"""Every error of the API is JSON: ``{"error": code, "message": text}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..service import ServiceError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {"error": code, "message": message, **extra}
    return web.json_response(body, status=status, headers=headers)


_REASONS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    429: "too_many_requests",
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceError as exc:
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="telekonf"'
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        return error_response(exc.status, exc.code, exc.message, headers, **exc.extra)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        code = _REASONS.get(exc.status, "error")
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(exc.status, code, exc.reason, headers)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side")


async def read_body(request: web.Request, limit: int, what: str = "the request body") -> bytes:
    """The whole body, refused with 413 beyond ``limit`` bytes without reading it all.

    (``StreamReader.read(n)`` returns what has arrived so far, not ``n`` bytes: a body
    sent in several pieces must be read until its end.)
    """
    if request.content_length is not None and request.content_length > limit:
        raise ServiceError(413, "too_large", f"{what} is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ServiceError(413, "too_large", f"{what} is larger than {limit} bytes")


async def read_json(request: web.Request, limit: int = 256 * 1024) -> dict[str, Any]:
    raw = await read_body(request, limit)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServiceError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "bad_json", "the body must be a JSON object")
    return body
