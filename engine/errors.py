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


class StepError(DeskError):
    """A step of a ticket's diagram failed in the engine while a command ran: nothing of the command was
    written, and the ticket has an incident (``engine.tickets.incidents``) that says so to the people who
    fix diagrams. ``element_id``, ``element_name``: the step; ``incident_id``: its incident, once recorded."""

    element_id: str = ""
    element_name: str = ""
    incident_id: int | None = None


class HandlerError(StepError):
    """A service-task handler failed; the message names the ticket and the task."""

    def __init__(self, message: str, *, element_id: str = "", element_name: str = ""):
        super().__init__(message)
        self.element_id, self.element_name = element_id, element_name


class StepFailed(StepError):
    """SpiffWorkflow could not take a step of the diagram: no condition of a gateway's flows held, an
    expression or a script failed, a timer gave no moment. The diagram is at fault, not the input: the
    same command succeeds once the ticket runs on a corrected version. ``error`` says what failed in
    one line; ``reference`` and ``version`` say where, when known."""

    def __init__(self, error: str, *, element_id: str = "", element_name: str = "", process_id: str = ""):
        super().__init__(error)
        self.error, self.element_id, self.element_name, self.process_id = error, element_id, element_name, process_id
        self.reference: str | None = None
        self.version: int | None = None

    @property
    def step(self) -> str:
        """The step as a process owner finds it in the modeller: its id and name."""
        named = f' "{self.element_name}"' if self.element_name else ""
        return f"{self.element_id or 'an unknown element'}{named}"

    def __str__(self) -> str:
        where = f" of diagram version {self.version}" if self.version is not None else ""
        said = f"{self.reference}: " if self.reference else ""
        told = (
            f"; incident {self.incident_id} is recorded for the administrators, who can correct the diagram and "
            "move the ticket to the corrected version: then do this again"
            if self.incident_id is not None
            else ""
        )
        return f"{said}the step {self.step}{where} failed: {self.error}. Nothing was saved{told}"


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
