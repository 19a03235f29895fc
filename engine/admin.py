"""What the admin pages show and do: the deployed diagram versions with their warnings,
deploying uploaded diagram files, and the people who sign in."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NoActiveVersion
from supportdesk.engine.people import users
from supportdesk.engine.people.users import Person
from supportdesk.engine.process.deployment import DIAGRAM_SUFFIXES, DeployResult, active_version, deploy_files
from supportdesk.engine.process.lint import DiagramWarning, lint
from supportdesk.engine.store.models import DiagramVersion, Ticket, User

# A diagram is a few hundred kilobytes at most; refuse what cannot be one before parsing it.
MAX_DIAGRAM_BYTES = 2 * 1024 * 1024
# The name is stored with the version (diagram_file.name) and shown on pages: a plain file name.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,195}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
# A ticket runs on its version until it is closed (an enhancement's call closes while the
# development team's task stays open, but the customer's call is over).
CLOSED = "closed"


@dataclass(frozen=True)
class VersionView:
    number: int
    deployed_at: datetime
    deployed_by: str
    activated_at: datetime
    active: bool
    files: tuple[str, ...]
    warnings: tuple[DiagramWarning, ...]
    open_tickets: int


@dataclass(frozen=True)
class UserRow:
    person: Person
    created_at: datetime


@dataclass(frozen=True)
class Overview:
    active_version: int | None
    versions: int
    warnings: int  # of the active version
    users: int
    open_tickets: int


def list_versions(desk: Desk) -> list[VersionView]:
    """Every deployed version, newest first, with the lint warnings of its files and how many
    tickets that are not closed still run on it."""
    with desk.db.reading() as session:
        versions = list(
            session.scalars(
                select(DiagramVersion)
                .options(selectinload(DiagramVersion.files))
                .order_by(DiagramVersion.number.desc())
            )
        )
        open_counts = dict(
            session.execute(
                select(Ticket.version_id, func.count()).where(Ticket.status != CLOSED).group_by(Ticket.version_id)
            ).all()
        )
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
            open_counts.get(v.id, 0),
        )
        for v in versions
    ]


def overview(desk: Desk) -> Overview:
    versions = list_versions(desk)
    active = next((v for v in versions if v.active), None)
    with desk.db.reading() as session:
        user_count = session.scalar(select(func.count()).select_from(User)) or 0
    return Overview(
        active.number if active else None,
        len(versions),
        len(active.warnings) if active else 0,
        user_count,
        sum(v.open_tickets for v in versions),
    )


def deploy_uploaded(desk: Desk, uploads: Iterable[tuple[str, bytes]], actor: str) -> DeployResult:
    """Deploy the active version's files with ``uploads`` ((file name, content) pairs) put in place of
    the files of the same name; the others are kept. Raises InvalidInput (field ``files``) for an upload that cannot
    be a diagram, and the engine's DiagramError (file, line, element id) for one that does not
    validate; either way nothing is written and the active version keeps serving."""
    files = _diagram_texts(uploads)
    with desk.db.transaction() as session:
        try:
            current = {f.name: f.content for f in active_version(session).files}
        except NoActiveVersion:
            current = {}  # the first deployment may come through the page too
        return deploy_files(session, {**current, **files}, desk.handler_topics, actor)


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
        return [UserRow(users._person(u), u.created_at) for u in session.scalars(select(User).order_by(User.username))]


def add_user(
    desk: Desk, *, username: str, password: str, roles: list[str], display_name: str = "", email: str = ""
) -> Person:
    """engine.users.add_user, with a username and email checked first and every refusal naming its field."""
    username, email = username.strip(), email.strip()
    problems = {}
    if not USERNAME.match(username):
        problems["username"] = "A username is 1 to 100 letters, digits or . _ @ -, starting with a letter or digit"
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            problems["email"] = str(exc)
    if problems:
        raise InvalidInput("the user cannot be added", problems)
    return users.add_user(desk, username, password, roles, display_name=display_name.strip(), email=email)
