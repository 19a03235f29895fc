"""Errors the engine raises, each with a message a person can act on."""


class DeskError(Exception):
    """Base of every error the desk reports to its users."""


class ConflictError(DeskError):
    """The command ran against a stale ticket (someone else acted first): nothing was written."""


class NotFound(DeskError):
    """No such ticket, task or version."""


class InvalidInput(DeskError):
    """Input that cannot be accepted; ``fields`` maps a field to its message."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}


class HandlerError(DeskError):
    """A service-task handler failed; the message names the ticket and the task."""


class DiagramError(DeskError):
    """A diagram that cannot be deployed, located by file, line and element id."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None, element_id: str = ""):
        self.file, self.line, self.element_id, self.detail = file, line, element_id, message
        where = ":".join(str(part) for part in (file, line) if part)
        element = f" (element {element_id})" if element_id else ""
        super().__init__(f"{where}{element}: {message}" if where else f"{message}{element}")


class NoActiveVersion(DeskError):
    """No diagrams are deployed yet: run ``supportdesk deploy``."""


class NotAllowed(DeskError):
    """The ticket's state does not allow this action (e.g. a message it is not waiting for)."""


class Forbidden(DeskError):
    """The person's role does not allow this action."""
