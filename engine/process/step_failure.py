"""What SpiffWorkflow raises when a step of a diagram fails, said as a process owner reads it.

A gateway whose conditions all fail (``No conditions satisfied for Gateway_x``), a condition, timer or
script that raises, a decision table that cannot be evaluated: each becomes ``StepFailed``, located on
the element that failed (its id and name), with what failed in one line. The commands refuse with it
and the ticket gets an incident (``engine.tickets.incidents``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import SQLAlchemyError

from supportdesk.engine.errors import DeskError, StepFailed

# An error longer than this is cut: it is shown in one line on pages, in the CLI and in the API.
MAX_ERROR = 600
NOT_WAITING = "This process is not waiting for"
# SpiffWorkflow's words for a gateway none of whose flows can be taken, and the desk's.
_NO_CONDITION = re.compile(r"^No conditions satisfied (for|on gateway)")
NO_CONDITION_HOLDS = (
    "no condition of its outgoing flows holds for this call, and it has no default flow "
    "(add a default flow, or a condition for this case)"
)
_EVALUATING = re.compile(r"^Error evaluating expression '(?P<expression>.*)'$", re.DOTALL)


@contextlib.contextmanager
def running_steps(workflow: BpmnWorkflow) -> Iterator[None]:
    """Run the engine's steps of ``workflow`` in this block: any failure of a step becomes ``StepFailed``.
    What is no step's failure passes as it is: the desk's refusals and handlers' errors (DeskError) and
    the store's (SQLAlchemyError: a lost connection or a lock is no fault of the diagram)."""
    try:
        yield
    except (DeskError, SQLAlchemyError):
        raise
    except Exception as exc:  # whatever a diagram's step raises is that step's failure
        raise step_failed(exc, workflow) from exc


def not_waiting(exc: Exception) -> bool:
    """Whether ``workflow.send_event`` refused a message because nothing in the instance waits for it
    (the command is then not allowed), rather than because a step it triggered failed."""
    return type(exc) is WorkflowException and str(exc).startswith(NOT_WAITING)


def step_failed(exc: Exception, workflow: BpmnWorkflow) -> StepFailed:
    """``exc``, raised while ``workflow`` ran its steps, as the step that failed and why."""
    spec = _failed_spec(exc, workflow)
    return StepFailed(
        _one_line(_said(exc)),
        element_id=(getattr(spec, "bpmn_id", None) or getattr(spec, "name", "")) if spec is not None else "",
        element_name=(getattr(spec, "bpmn_name", None) or "") if spec is not None else "",
        process_id=spec._wf_spec.name if spec is not None and getattr(spec, "_wf_spec", None) else "",
    )


def _failed_spec(exc: Exception, workflow: BpmnWorkflow):
    """The element that failed: the one SpiffWorkflow names, else the task it left in ERROR."""
    task = getattr(exc, "task", None)
    if task is not None:
        return task.task_spec
    spec = getattr(exc, "task_spec", None)
    if spec is not None:
        return spec
    failed = workflow.get_tasks(state=TaskState.ERROR)
    return failed[-1].task_spec if failed else None


def _said(exc: Exception) -> str:
    """What failed: SpiffWorkflow's gateway message in words, an expression with the Python error it
    raised, anything else as its type and message."""
    message = str(exc.args[0]) if exc.args else ""
    if isinstance(exc, SpiffWorkflowException) and _NO_CONDITION.match(message):
        return NO_CONDITION_HOLDS
    cause = exc.__cause__ or exc.__context__
    evaluating = _EVALUATING.match(message)
    if evaluating is not None and cause is not None:
        return f"the expression {evaluating['expression'].strip()} raised {_python_error(cause)}"
    if isinstance(exc, WorkflowTaskException) and exc.error_line:
        raised = _python_error(cause) if cause else message
        return f"the script raised {raised} on line {exc.line_number}: {exc.error_line.strip()}"
    notes = " ".join(getattr(exc, "notes", []) or [])
    said = f"{message} {notes}".strip() if isinstance(exc, SpiffWorkflowException) else _python_error(exc)
    return said or exc.__class__.__name__


def _python_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"
