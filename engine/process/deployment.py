"""Deploying diagrams: an immutable, numbered version per distinct set of files.

The gate (``validation.inspect``) runs first: a set with any error is refused with every error
(``DiagramRefused``) before anything is stored, and the active version keeps serving.
A version is keyed by the hash of its files, so deploying unchanged files
is a no-op and deploying an older set again re-activates that version.
Tickets stay pinned to the version they started on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportdesk.engine.errors import NoActiveVersion
from supportdesk.engine.process.lint import DiagramWarning
from supportdesk.engine.process.problems import DiagramRefused, Problem
from supportdesk.engine.process.validation import Inspection, inspect
from supportdesk.engine.store.models import DiagramFile, DiagramVersion
from supportdesk.engine.working_time.clock import clock

DIAGRAM_SUFFIXES = (".bpmn", ".dmn")


@dataclass(frozen=True)
class DeployResult:
    number: int
    content_hash: str
    outcome: str  # "deployed" | "unchanged" | "reactivated"
    warnings: tuple[DiagramWarning, ...] = ()

    def describe(self) -> str:
        return {
            "deployed": f"deployed diagrams as version {self.number}",
            "unchanged": f"diagrams unchanged: version {self.number} stays active",
            "reactivated": f"re-activated version {self.number} (same files as before)",
        }[self.outcome]


def read_diagram_files(directory: Path) -> dict[str, str]:
    """The folder's .bpmn and .dmn files as text; DiagramRefused names every file that is not UTF-8."""
    files: dict[str, str] = {}
    unreadable: list[Problem] = []
    for path in sorted(directory.iterdir()):
        if path.suffix in DIAGRAM_SUFFIXES and path.is_file():
            try:
                files[path.name] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                message = f"not UTF-8 text (byte {exc.start}: {exc.reason}); save the diagram as UTF-8"
                unreadable.append(Problem(str(path), None, "", message))
    if unreadable:
        raise DiagramRefused(unreadable)
    return files


def content_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode("utf-8") + b"\0")
    return digest.hexdigest()


def active_version(session: Session) -> DiagramVersion:
    version = session.scalars(select(DiagramVersion).order_by(DiagramVersion.activation.desc()).limit(1)).first()
    if version is None:
        raise NoActiveVersion("no diagrams are deployed yet: run `supportdesk deploy`")
    return version


def check_files(files: dict[str, str], handler_topics, functions: Iterable[str] | None = None) -> Inspection:
    """The gate alone (``supportdesk deploy --check``): every error and warning, nothing stored.
    ``functions``: the names the diagrams' expressions may call (see ``validation.inspect``)."""
    return inspect(files, handler_topics, functions)


def deploy_files(
    session: Session, files: dict[str, str], handler_topics, actor: str, functions: Iterable[str] | None = None
) -> DeployResult:
    """Run the gate (raising DiagramRefused with every error, writing nothing) and store the files."""
    inspection = check_files(files, handler_topics, functions)
    if inspection.errors:
        raise DiagramRefused(inspection.errors)
    warnings = inspection.warnings
    digest = content_hash(files)
    existing = session.scalar(select(DiagramVersion).where(DiagramVersion.content_hash == digest))
    current = _active_or_none(session)
    if existing is not None:
        if current is not None and current.id == existing.id:
            return DeployResult(existing.number, digest, "unchanged", warnings)
        existing.activation = _next_activation(session)
        existing.activated_at = clock.now()
        return DeployResult(existing.number, digest, "reactivated", warnings)
    number = (session.scalar(select(func.max(DiagramVersion.number))) or 0) + 1
    now = clock.now()
    version = DiagramVersion(
        number=number,
        content_hash=digest,
        deployed_at=now,
        deployed_by=actor,
        activation=_next_activation(session),
        activated_at=now,
        files=[DiagramFile(name=n, content=c) for n, c in sorted(files.items())],
    )
    session.add(version)
    session.flush()
    return DeployResult(number, digest, "deployed", warnings)


def _active_or_none(session: Session) -> DiagramVersion | None:
    try:
        return active_version(session)
    except NoActiveVersion:
        return None


def _next_activation(session: Session) -> int:
    return (session.scalar(select(func.max(DiagramVersion.activation))) or 0) + 1
