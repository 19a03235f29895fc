"""What the admin pages show and do: the deployed diagram versions with their warnings,
deploying uploaded diagram files, and the people who sign in."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NoActiveVersion, NotAllowed, NotFound
from supportdesk.engine.oversight import dry_run
from supportdesk.engine.people import users
from supportdesk.engine.people.users import Person
from supportdesk.engine.process.deployment import (
    DIAGRAM_SUFFIXES,
    DeployResult,
    active_version,
    check_files,
    content_hash,
    deploy_files,
)
from supportdesk.engine.process.lint import DiagramWarning, lint
from supportdesk.engine.process.problems import Problem
from supportdesk.engine.store.models import DiagramVersion, User
from supportdesk.engine.tickets.migration import DiagramChanges, changes_between, running_by_version

# A diagram is a few hundred kilobytes at most; refuse what cannot be one before parsing it.
MAX_DIAGRAM_BYTES = 2 * 1024 * 1024
# The name is stored with the version (diagram_file.name) and shown on pages: a plain file name.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,195}$")


@dataclass(frozen=True)
class VersionView:
    number: int
    deployed_at: datetime
    deployed_by: str
    activated_at: datetime
    active: bool
    files: tuple[str, ...]
    warnings: tuple[DiagramWarning, ...]
    open_tickets: int  # still running on it (migration.running_by_version: the same count as the migration page)


@dataclass(frozen=True)
class UserRow:
    person: Person
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_by: str | None = None


@dataclass(frozen=True)
class Overview:
    active_version: int | None
    versions: int
    warnings: int  # of the active version
    users: int  # who can sign in (disabled people are not counted)
    open_tickets: int


def list_versions(desk: Desk) -> list[VersionView]:
    """Every deployed version, newest first, with the lint warnings of its files and how many
    tickets still run on it."""
    with desk.db.reading() as session:
        versions = list(
            session.scalars(
                select(DiagramVersion)
                .options(selectinload(DiagramVersion.files))
                .order_by(DiagramVersion.number.desc())
            )
        )
        running = running_by_version(session)
    active_id = max(versions, key=lambda v: v.activation).id if versions else None
    return [
        VersionView(
            v.number,
            v.deployed_at,
            v.deployed_by,
            v.activated_at,
            v.id == active_id,
            tuple(f.name for f in v.files),
            tuple(lint({f.name: f.content for f in v.files})),
            sum(running.get(v.id, {}).values()),
        )
        for v in versions
    ]


def overview(desk: Desk) -> Overview:
    versions = list_versions(desk)
    active = next((v for v in versions if v.active), None)
    with desk.db.reading() as session:
        user_count = session.scalar(select(func.count()).select_from(User).where(User.disabled_at.is_(None))) or 0
    return Overview(
        active.number if active else None,
        len(versions),
        len(active.warnings) if active else 0,
        user_count,
        sum(v.open_tickets for v in versions),
    )


@dataclass(frozen=True)
class UploadCheck:
    """The deploy gate's verdict on uploaded files, before anything is stored (``supportdesk deploy
    --check`` for the web): the set that would be deployed (the active version's files with the uploads
    in place of those of the same name), every problem, what deploying would do, and what it would
    change against the active version."""

    uploaded: dict[str, str]
    files: dict[str, str]
    active_number: int | None
    active_files: dict[str, str]
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    content_hash: str
    outcome: str  # what deploying would do, as DeployResult says it: deployed | unchanged | reactivated
    becomes: int  # the version that would be active after deploying
    changes: DiagramChanges | None  # against the active version; None when refused or the first version

    def describe(self) -> str:
        if self.errors:
            return f"{_count(self.errors, 'problem')}: these files cannot be deployed"
        verdict = {
            "deployed": f"deploying them makes version {self.becomes}",
            "unchanged": f"they are the files of version {self.becomes}, which is active: deploying changes nothing",
            "reactivated": f"they are the files of version {self.becomes}: deploying re-activates it",
        }[self.outcome]
        return f"The files pass the check; {verdict}"


def check_uploaded(desk: Desk, uploads: Iterable[tuple[str, bytes]]) -> UploadCheck:
    """Run the deploy gate on the active version's files with ``uploads`` in place, storing nothing.
    Raises InvalidInput (field ``files``) for an upload that cannot be a diagram."""
    uploaded = _diagram_texts(uploads)
    with desk.db.reading() as session:
        active_number, active_files = _active_files(session)
        files = {**active_files, **uploaded}
        digest = content_hash(files)
        outcome, becomes = _deploying(session, digest, active_number)
    inspection = check_files(files, desk.handler_topics, desk.registry.expression_functions)  # as deploying does
    errors, warnings = inspection.errors, inspection.warnings
    if not errors and outcome == "deployed":  # a new set: its dry run too, as deploying does (issue 21)
        rehearsal = dry_run.rehearse_for(desk, files)
        errors, warnings = errors + rehearsal.errors, warnings + rehearsal.warnings
    changes = changes_between(desk, active_files, files) if active_files and not inspection.errors else None
    return UploadCheck(
        uploaded,
        files,
        active_number,
        active_files,
        errors,
        warnings,
        digest,
        outcome,
        becomes,
        changes,
    )


@dataclass(frozen=True)
class Checked:
    """What a process owner checked (``check_uploaded``): the set's content hash, against which active version."""

    content_hash: str
    active_number: int | None


def deploy_uploaded(
    desk: Desk, uploads: Iterable[tuple[str, bytes]], actor: str, *, checked: Checked | None = None
) -> DeployResult:
    """Deploy the active version's files with ``uploads`` ((file name, content) pairs) put in place of
    the files of the same name; the others are kept. Raises InvalidInput (field ``files``) for an upload that cannot
    be a diagram, and the engine's DiagramError (file, line, element id) for one that does not
    validate; either way nothing is written and the active version keeps serving.

    ``checked``: deploy only the set a process owner checked, against the version active then (NotAllowed
    when another is active now: what deploying changes is no longer what the check showed)."""
    files = _diagram_texts(uploads)
    with desk.db.reading() as session:
        rehearsed = {**_active_files(session)[1], **files}
    dry_run.check_new(desk, rehearsed)  # the gate and the dry run, before the transaction: it takes seconds
    with desk.db.transaction() as session:
        active_number, current = _active_files(session)
        merged = {**current, **files}
        if merged != rehearsed:
            raise NotAllowed("another version was deployed while these files were checked; deploy them again")
        if checked is not None and checked.active_number != active_number:
            raise NotAllowed(
                f"version {active_number} is active now, not the version you checked these files against; "
                "check them again to see what deploying them would change now"
            )
        if checked is not None and content_hash(merged) != checked.content_hash:
            raise InvalidInput("not the files checked", {"files": "These are not the files you checked; check them"})
        return deploy_files(session, merged, desk.handler_topics, actor, desk.registry.expression_functions)


def version_files(desk: Desk, number: int) -> dict[str, str]:
    """The files of a deployed version, by name."""
    with desk.db.reading() as session:
        version = session.scalar(
            select(DiagramVersion).where(DiagramVersion.number == number).options(selectinload(DiagramVersion.files))
        )
        if version is None:
            raise NotFound(f"no diagram version {number} is deployed")
        return {f.name: f.content for f in version.files}


def version_file(desk: Desk, number: int, name: str) -> str:
    """The text of one file of a deployed version."""
    content = version_files(desk, number).get(name)
    if content is None:
        raise NotFound(f"version {number} has no file {name}")
    return content


def _active_files(session: Session) -> tuple[int | None, dict[str, str]]:
    try:
        version = active_version(session)
    except NoActiveVersion:
        return None, {}  # the first deployment may come through the page too
    return version.number, {f.name: f.content for f in version.files}


def _deploying(session: Session, digest: str, active_number: int | None) -> tuple[str, int]:
    """What deploying the set of ``digest`` would do (as deploy_files decides it), and the version then active."""
    existing = session.scalar(select(DiagramVersion.number).where(DiagramVersion.content_hash == digest))
    if existing is None:
        return "deployed", (session.scalar(select(func.max(DiagramVersion.number))) or 0) + 1
    return ("unchanged" if existing == active_number else "reactivated"), existing


def _count(items, word: str) -> str:
    return f"{len(items)} {word}{'' if len(items) == 1 else 's'}"


def _diagram_texts(uploads: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for sent_name, content in uploads:
        # Some browsers send the path the file came from; the set is keyed by the file's own name.
        name = sent_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if name in texts:
            raise InvalidInput(f"{name} twice", {"files": f"{name} was chosen twice; choose each file once"})
        texts[name] = _diagram_text(name, content)
    if not texts:
        raise InvalidInput("no files", {"files": "Choose one or more .bpmn or .dmn files"})
    return texts


def _diagram_text(name: str, content: bytes) -> str:
    def refuse(problem: str) -> InvalidInput:
        return InvalidInput(f"{name}: {problem}", {"files": f"{name}: {problem}"})

    if not name.endswith(DIAGRAM_SUFFIXES) or not FILE_NAME.match(name):
        raise refuse("only .bpmn and .dmn files with a plain name (letters, digits, - _ .) can be deployed")
    if len(content) > MAX_DIAGRAM_BYTES:
        raise refuse(f"larger than {MAX_DIAGRAM_BYTES // (1024 * 1024)} MiB; that is no diagram")
    try:
        # utf-8-sig: an editor's byte-order mark would otherwise make an identical file a new version.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("not UTF-8 text") from None


def list_users(desk: Desk) -> list[UserRow]:
    with desk.db.reading() as session:
        return [
            UserRow(users.person_of(u), u.created_at, u.disabled_at, u.disabled_by)
            for u in session.scalars(select(User).order_by(User.username))
        ]
