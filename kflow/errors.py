"""The errors every interface reports the same way (lifecycle.md §3)."""

from __future__ import annotations


class KflowError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class Unauthenticated(KflowError):
    code, status = "unauthenticated", 401


class Forbidden(KflowError):
    code, status = "forbidden", 403


class NotFound(KflowError):
    code, status = "not_found", 404


class InvalidTransition(KflowError):
    code, status = "invalid_transition", 409


class Conflict(KflowError):
    code, status = "conflict", 409


class ValidationError(KflowError):
    code, status = "validation_error", 422


class BadRequest(KflowError):
    code, status = "bad_request", 400


class Unavailable(KflowError):
    """The database is busy or unreachable for a moment; the client may retry."""

    code, status = "unavailable", 503
