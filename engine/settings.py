"""Settings from environment variables, with safe defaults for one machine."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marshmallow as ma
from environs import Env, EnvValidationError
from marshmallow.validate import OneOf, Range

PACKAGED_WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


@dataclass(frozen=True)
class ImapMailbox:
    """One of the team's mailboxes the worker fetches mail from over IMAP (engine/mail/imap.py)."""

    name: str  # in SUPPORTDESK_IMAP_MAILBOXES; its settings are SUPPORTDESK_IMAP_<NAME>_*
    host: str
    user: str
    port: int = 993
    security: str = "tls"  # tls (IMAPS) | starttls | none (plaintext: only to this machine, for tests)
    password: str = field(default="", repr=False)
    password_file: Path | None = None  # read at each connection, so a rotated secret is picked up
    folder: str = "INBOX"  # read
    processed_folder: str = "Processed"  # where filed mail is moved
    unreadable_folder: str = "Unreadable"  # where mail the desk could not file (quarantined) is moved


IMAP_SECURITY = ("tls", "starttls", "none")
IMAP_DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'supportdesk.sqlite'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    # SQLite only: how hard each commit waits for the disk. "full" (the default) survives a power
    # cut; "normal" may lose the last commits to one (never the store's consistency) and commits
    # faster; "off" is for stores that are thrown away (the audit's scratch stores).
    sqlite_synchronous: str = "full"
    workflows_dir: Path = PACKAGED_WORKFLOWS
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    portal_url: str = "http://127.0.0.1:5000/portal"
    mail_from: str = "Support desk <support@supportdesk.local>"
    mail_domain: str = "supportdesk.local"  # for Message-IDs
    first_line_address: str = "first-line@supportdesk.local"  # where breach alerts go (C12)
    # Outbound mail. Without an SMTP host, mail stays queued in the outbox (the desk shows it).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_timeout: float = 20.0  # seconds; the worker waits this long at most for a silent server
    smtp_max_attempts: int = 12  # with the backoff (30 s doubling, at most 1 h) about 6 hours of tries
    # Inbound mail: what the desk accepts as a call, where `mail-server` listens, how much it keeps.
    support_address: str = "support@supportdesk.local"
    mail_server_host: str = "127.0.0.1"
    mail_server_port: int = 8025
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024  # one file, received or sent (engine/conversation too)
    # The conversation's attachments (engine/conversation): where their bytes are kept, in the database
    # or in a folder (by SHA-256: one file per content), and how much one conversation entry may carry.
    attachment_store: str = "database"
    attachment_dir: Path = field(default_factory=lambda: Path.cwd() / "attachments")
    max_attachments_bytes: int = 25 * 1024 * 1024
    # The web desk and the API: a request body larger than this is refused (413) before it is read.
    # Inbound mail has its own limits above.
    max_request_bytes: int = 4 * 1024 * 1024
    # Sign-in (issue 16). Cookies marked Secure (sent over HTTPS only): None means "when the portal URL is https".
    secure_cookies: bool | None = None
    require_admin_2fa: bool = False  # admins must sign in with a one-time code (TOTP)
    sign_in_attempts: int = 10  # failed sign-ins for one account within the lockout time, then refused
    sign_in_address_attempts: int = 100  # the same for one client address, whatever accounts it tries
    sign_in_lockout_minutes: int = 15  # the window failures are counted in, and how long a refusal lasts
    portal_link_days: int = 90  # a customer's portal link stops working after this many days
    # The team's mailboxes, fetched over IMAP by the worker (issue 24): IDLE where offered, else polled.
    imap_mailboxes: tuple[ImapMailbox, ...] = ()
    imap_poll_seconds: int = 60  # without IDLE: how often a mailbox is looked at
    imap_idle_seconds: int = 300  # one IDLE at most this long (servers drop idle clients after 30 min)
    imap_timeout: float = 30.0  # seconds: a silent server is given up on after this

    @property
    def cookies_secure(self) -> bool:
        return self.portal_url.lower().startswith("https:") if self.secure_cookies is None else self.secure_cookies

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``SUPPORTDESK_*`` variables; anything unset keeps its default.

        Without ``SUPPORTDESK_SECRET_KEY`` a random key is made per process:
        safe, but sessions end on restart and several web processes would
        not share sign-ins, so production sets it.
        """
        env = _Reader(os.environ if environ is None else environ)
        defaults = cls()
        return cls(
            database_url=env.str("SUPPORTDESK_DATABASE_URL", defaults.database_url),
            sqlite_synchronous=_read(
                env.choice,
                "SUPPORTDESK_SQLITE_SYNCHRONOUS",
                defaults.sqlite_synchronous,
                validate=_one_of(SQLITE_SYNCHRONOUS),
            ),
            workflows_dir=env.path("SUPPORTDESK_WORKFLOWS_DIR", defaults.workflows_dir),
            secret_key=env.str("SUPPORTDESK_SECRET_KEY", defaults.secret_key),
            portal_url=env.str("SUPPORTDESK_PORTAL_URL", defaults.portal_url),
            mail_from=env.str("SUPPORTDESK_MAIL_FROM", defaults.mail_from),
            mail_domain=env.str("SUPPORTDESK_MAIL_DOMAIN", defaults.mail_domain),
            first_line_address=env.str("SUPPORTDESK_FIRST_LINE_ADDRESS", defaults.first_line_address),
            smtp_host=env.str("SUPPORTDESK_SMTP_HOST", defaults.smtp_host).strip(),
            smtp_port=_read(env.whole_number, "SUPPORTDESK_SMTP_PORT", defaults.smtp_port),
            smtp_starttls=_read(env.flag, "SUPPORTDESK_SMTP_STARTTLS", defaults.smtp_starttls),
            smtp_username=env.str("SUPPORTDESK_SMTP_USERNAME", defaults.smtp_username),
            smtp_password=env.str("SUPPORTDESK_SMTP_PASSWORD", defaults.smtp_password),
            smtp_timeout=float(_read(env.whole_number, "SUPPORTDESK_SMTP_TIMEOUT", int(defaults.smtp_timeout))),
            smtp_max_attempts=_read(env.whole_number, "SUPPORTDESK_SMTP_MAX_ATTEMPTS", defaults.smtp_max_attempts),
            support_address=env.str("SUPPORTDESK_SUPPORT_ADDRESS", defaults.support_address).strip(),
            mail_server_host=env.str("SUPPORTDESK_MAIL_SERVER_HOST", defaults.mail_server_host),
            mail_server_port=_read(env.whole_number, "SUPPORTDESK_MAIL_SERVER_PORT", defaults.mail_server_port),
            max_message_bytes=_read(env.whole_number, "SUPPORTDESK_MAX_MESSAGE_BYTES", defaults.max_message_bytes),
            max_attachment_bytes=_read(
                env.whole_number, "SUPPORTDESK_MAX_ATTACHMENT_BYTES", defaults.max_attachment_bytes
            ),
            attachment_store=_read(
                env.choice,
                "SUPPORTDESK_ATTACHMENT_STORE",
                defaults.attachment_store,
                validate=_one_of(ATTACHMENT_STORES),
            ),
            attachment_dir=env.path("SUPPORTDESK_ATTACHMENT_DIR", defaults.attachment_dir),
            max_attachments_bytes=_read(
                env.whole_number, "SUPPORTDESK_MAX_ATTACHMENTS_BYTES", defaults.max_attachments_bytes
            ),
            max_request_bytes=_read(env.whole_number, "SUPPORTDESK_MAX_REQUEST_BYTES", defaults.max_request_bytes),
            # Unset (or blank): None, "decide from the portal URL".
            secure_cookies=_read(env.flag, "SUPPORTDESK_SECURE_COOKIES", None),
            require_admin_2fa=_read(env.flag, "SUPPORTDESK_REQUIRE_ADMIN_2FA", defaults.require_admin_2fa),
            sign_in_attempts=_read(
                env.whole_number, "SUPPORTDESK_SIGN_IN_ATTEMPTS", defaults.sign_in_attempts, validate=_AT_LEAST_1
            ),
            sign_in_address_attempts=_read(
                env.whole_number,
                "SUPPORTDESK_SIGN_IN_ADDRESS_ATTEMPTS",
                defaults.sign_in_address_attempts,
                validate=_AT_LEAST_1,
            ),
            sign_in_lockout_minutes=_read(
                env.whole_number,
                "SUPPORTDESK_SIGN_IN_LOCKOUT_MINUTES",
                defaults.sign_in_lockout_minutes,
                validate=_AT_LEAST_1,
            ),
            portal_link_days=_read(
                env.whole_number, "SUPPORTDESK_PORTAL_LINK_DAYS", defaults.portal_link_days, validate=_AT_LEAST_1
            ),
            imap_mailboxes=_imap_mailboxes(env),
            imap_poll_seconds=_read(
                env.whole_number, "SUPPORTDESK_IMAP_POLL_SECONDS", defaults.imap_poll_seconds, validate=_AT_LEAST_1
            ),
            imap_idle_seconds=_read(
                env.whole_number, "SUPPORTDESK_IMAP_IDLE_SECONDS", defaults.imap_idle_seconds, validate=_AT_LEAST_1
            ),
            imap_timeout=float(
                _read(env.whole_number, "SUPPORTDESK_IMAP_TIMEOUT", int(defaults.imap_timeout), validate=_AT_LEAST_1)
            ),
        )


SQLITE_SYNCHRONOUS = ("full", "normal", "off")
ATTACHMENT_STORES = ("database", "folder")

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


# environs reads the variables and runs marshmallow fields and validators on them; the fields below are the
# rules this desk has always had: surrounding spaces are ignored, a blank value counts as unset, and the error
# says what is wanted. Plain text settings (URLs, addresses, passwords) are taken exactly as given.


class _Blankable(ma.fields.Field):
    lowercase = False

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        if not text:
            return self.load_default
        return self._parse(text.lower() if self.lowercase else text)

    def _parse(self, text: str):
        return text


class _WholeNumber(_Blankable):
    """A whole, non-negative number written in digits."""

    def _parse(self, text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text):
            raise ma.ValidationError(f"must be a whole number, not {text!r}")
        return int(text)


class _Flag(_Blankable):
    lowercase = True

    def _parse(self, text: str) -> bool:
        if text not in _TRUE | _FALSE:
            raise ma.ValidationError(f"must be true or false, not {text!r}")
        return text in _TRUE


class _Choice(_Blankable):
    """One word of a list (case ignored), checked by the ``validate=_one_of(...)`` it is read with."""

    lowercase = True


def _one_of(choices: tuple[str, ...]) -> OneOf:
    return OneOf(choices, error="must be one of {choices}, not {input!r}")


_AT_LEAST_1 = Range(min=1, error="must be at least {min}")


class _Reader(Env):
    """environs' reader over a given mapping (``os.environ``, or a test's own) rather than always
    ``os.environ``; ``_get_value`` is the hook environs' own ``FileAwareEnv`` overrides."""

    def __init__(self, environ: Mapping[str, str]):
        super().__init__(eager=True, expand_vars=False)
        self._mapping = environ
        self.add_parser_from_field("whole_number", _WholeNumber)
        self.add_parser_from_field("flag", _Flag)
        self.add_parser_from_field("choice", _Choice)

    def _get_value(self, env_key: str, default: Any) -> Any:
        return self._mapping.get(env_key, default)


def _imap_mailboxes(env: _Reader) -> tuple[ImapMailbox, ...]:
    """SUPPORTDESK_IMAP_MAILBOXES=support,sales names the mailboxes; each one's SUPPORTDESK_IMAP_<NAME>_HOST,
    _USER, _PASSWORD or _PASSWORD_FILE, and optionally _PORT, _SECURITY, _FOLDER, _PROCESSED_FOLDER and
    _UNREADABLE_FOLDER."""
    names = [name.strip() for name in env.str("SUPPORTDESK_IMAP_MAILBOXES", "").split(",") if name.strip()]
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name):
            raise ValueError(f"SUPPORTDESK_IMAP_MAILBOXES: {name!r} is not a name (letters, digits, - and _)")
    if len({name.lower() for name in names}) != len(names):
        raise ValueError("SUPPORTDESK_IMAP_MAILBOXES names a mailbox twice")
    return tuple(_imap_mailbox(env, name) for name in names)


def _imap_mailbox(env: _Reader, name: str) -> ImapMailbox:
    prefix = f"SUPPORTDESK_IMAP_{name.upper().replace('-', '_')}_"
    security = _read(env.choice, prefix + "SECURITY", "tls", validate=_one_of(IMAP_SECURITY))
    host, user = env.str(prefix + "HOST", "").strip(), env.str(prefix + "USER", "").strip()
    password, password_file = env.str(prefix + "PASSWORD", ""), env.str(prefix + "PASSWORD_FILE", "").strip()
    for setting, value in (("HOST", host), ("USER", user)):
        if not value:
            raise ValueError(f"{prefix}{setting} is not set (mailbox {name!r} in SUPPORTDESK_IMAP_MAILBOXES)")
    if bool(password) == bool(password_file):
        raise ValueError(f"set one of {prefix}PASSWORD and {prefix}PASSWORD_FILE (mailbox {name!r})")
    if security == "none" and host.lower() not in LOOPBACK_HOSTS:
        raise ValueError(f"{prefix}SECURITY none sends the password in clear: only allowed to this machine, not {host}")
    folders = {key: env.str(prefix + key, "").strip() for key in ("FOLDER", "PROCESSED_FOLDER", "UNREADABLE_FOLDER")}
    defaults = ImapMailbox(name=name, host=host, user=user)
    return ImapMailbox(
        name=name,
        host=host,
        user=user,
        port=_read(env.whole_number, prefix + "PORT", IMAP_DEFAULT_PORTS[security], validate=_AT_LEAST_1),
        security=security,
        password=password,
        password_file=Path(password_file) if password_file else None,
        folder=folders["FOLDER"] or defaults.folder,
        processed_folder=folders["PROCESSED_FOLDER"] or defaults.processed_folder,
        unreadable_folder=folders["UNREADABLE_FOLDER"] or defaults.unreadable_folder,
    )


def _read(parse, name: str, default, **kwargs):
    """One typed setting; a bad value is a ValueError in our words that names the variable."""
    try:
        return parse(name, default, **kwargs)
    except EnvValidationError as error:  # the message is the field's or validator's, e.g. "must be at least 1"
        messages = error.error_messages  # a list for one field (marshmallow's type says a mapping too)
        first = messages[0] if isinstance(messages, list) else next(iter(messages.values()))[0]
        raise ValueError(f"{name} {first}") from None
