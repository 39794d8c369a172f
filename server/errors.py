"""The one error type the service layers raise: an HTTP status, a code and a message."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def too_many(retry_after: float, code: str, message: str) -> ServiceError:
    """429 with the whole seconds until the client may try again (``Retry-After``)."""
    return ServiceError(429, code, message, retry_after=int(retry_after + 0.999))
