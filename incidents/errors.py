"""Domain errors: services raise them, views turn them into HTTP answers."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the operation (HTTP 400). ``field`` names the input at fault, if any."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, object]:
        return {self.field: [self.message]} if self.field else {"detail": self.message}


class Conflict(DomainError):
    """The operation clashes with the current state of another row (HTTP 409)."""

    status_code = 409


class NotAllowed(DomainError):
    """The actor lacks the permission the operation needs (HTTP 403)."""

    status_code = 403
