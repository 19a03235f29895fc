"""People who sign in, with hashed passwords and charter roles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .clock import clock
from .desk import Desk
from .errors import InvalidInput
from .models import User
from .roles import ROLES

# Demo users for `supportdesk serve` on a fresh store: one per role.
DEMO_PASSWORD = "demo"
MIN_PASSWORD_LENGTH = len(DEMO_PASSWORD)
DEMO_USERS = [
    ("alice", "Alice First", ["first_line"]),
    ("sam", "Sam Second", ["second_line"]),
    ("tara", "Tara Third", ["third_line"]),
    ("amy", "Amy Account", ["account_manager"]),
    ("carl", "Carl Manager", ["customer_services_manager"]),
    ("dev", "Dana Developer", ["development_team"]),
    ("audrey", "Audrey Auditor", ["auditor"]),
    ("admin", "Ada Admin", ["admin"]),
]


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    display_name: str
    email: str
    roles: tuple[str, ...]


def _person(user: User) -> Person:
    return Person(user.id, user.username, user.display_name, user.email, tuple(user.roles))


def add_user(desk: Desk, username: str, password: str, roles: list[str], *, display_name: str = "",
             email: str = "") -> Person:
    """A person who signs in; InvalidInput names each field it refuses (roles, password, username)."""
    problems = {}
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        problems["roles"] = f"Unknown role(s) {', '.join(unknown) or '(none given)'}; roles are: {', '.join(ROLES)}"
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"The password is too short: at least {MIN_PASSWORD_LENGTH} characters"
    if problems:
        raise InvalidInput("the user cannot be added", problems)
    with desk.db.transaction() as session:
        if session.scalar(select(User).where(User.username == username)):
            raise InvalidInput("the user cannot be added", {"username": f"User {username!r} exists already"})
        user = User(username=username, display_name=display_name or username, email=email,
                    password_hash=generate_password_hash(password), roles=list(roles),
                    created_at=clock.now())
        session.add(user)
        session.flush()
        return _person(user)


def authenticate(desk: Desk, username: str, password: str) -> Person | None:
    with desk.db.reading() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not check_password_hash(user.password_hash, password):
            return None
        return _person(user)


def get_person(desk: Desk, user_id: int) -> Person | None:
    with desk.db.reading() as session:
        user = session.get(User, user_id)
        return _person(user) if user else None


def ensure_demo_users(desk: Desk) -> list[tuple[str, str, list[str]]]:
    """Create the demo users on a store that has no users; returns who was created."""
    with desk.db.reading() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return []
    for username, name, roles in DEMO_USERS:
        add_user(desk, username, DEMO_PASSWORD, roles, display_name=name, email=f"{username}@supportdesk.local")
    return DEMO_USERS


def demo_users_present(desk: Desk) -> list[tuple[str, str, list[str]]]:
    """The demo users that still exist, to remind whoever starts the desk."""
    with desk.db.reading() as session:
        present = set(session.scalars(select(User.username).where(User.username.in_([u for u, _, _ in DEMO_USERS]))))
    return [demo for demo in DEMO_USERS if demo[0] in present]
