"""Settings from environment variables, with safe defaults for one machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PACKAGED_WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


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
    max_attachment_bytes: int = 10 * 1024 * 1024
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

    @property
    def cookies_secure(self) -> bool:
        return self.portal_url.lower().startswith("https:") if self.secure_cookies is None else self.secure_cookies

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read ``SUPPORTDESK_*`` variables; anything unset keeps its default.

        Without ``SUPPORTDESK_SECRET_KEY`` a random key is made per process:
        safe, but sessions end on restart and several web processes would
        not share sign-ins, so production sets it.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("SUPPORTDESK_DATABASE_URL", defaults.database_url),
            sqlite_synchronous=_choice(env, "SUPPORTDESK_SQLITE_SYNCHRONOUS", defaults.sqlite_synchronous,
                                       SQLITE_SYNCHRONOUS),
            workflows_dir=Path(env.get("SUPPORTDESK_WORKFLOWS_DIR", str(defaults.workflows_dir))),
            secret_key=env.get("SUPPORTDESK_SECRET_KEY", defaults.secret_key),
            portal_url=env.get("SUPPORTDESK_PORTAL_URL", defaults.portal_url),
            mail_from=env.get("SUPPORTDESK_MAIL_FROM", defaults.mail_from),
            mail_domain=env.get("SUPPORTDESK_MAIL_DOMAIN", defaults.mail_domain),
            first_line_address=env.get("SUPPORTDESK_FIRST_LINE_ADDRESS", defaults.first_line_address),
            smtp_host=env.get("SUPPORTDESK_SMTP_HOST", defaults.smtp_host).strip(),
            smtp_port=_integer(env, "SUPPORTDESK_SMTP_PORT", defaults.smtp_port),
            smtp_starttls=_flag(env, "SUPPORTDESK_SMTP_STARTTLS", defaults.smtp_starttls),
            smtp_username=env.get("SUPPORTDESK_SMTP_USERNAME", defaults.smtp_username),
            smtp_password=env.get("SUPPORTDESK_SMTP_PASSWORD", defaults.smtp_password),
            smtp_timeout=float(_integer(env, "SUPPORTDESK_SMTP_TIMEOUT", int(defaults.smtp_timeout))),
            smtp_max_attempts=_integer(env, "SUPPORTDESK_SMTP_MAX_ATTEMPTS", defaults.smtp_max_attempts),
            support_address=env.get("SUPPORTDESK_SUPPORT_ADDRESS", defaults.support_address).strip(),
            mail_server_host=env.get("SUPPORTDESK_MAIL_SERVER_HOST", defaults.mail_server_host),
            mail_server_port=_integer(env, "SUPPORTDESK_MAIL_SERVER_PORT", defaults.mail_server_port),
            max_message_bytes=_integer(env, "SUPPORTDESK_MAX_MESSAGE_BYTES", defaults.max_message_bytes),
            max_attachment_bytes=_integer(env, "SUPPORTDESK_MAX_ATTACHMENT_BYTES", defaults.max_attachment_bytes),
            max_request_bytes=_integer(env, "SUPPORTDESK_MAX_REQUEST_BYTES", defaults.max_request_bytes),
            secure_cookies=(_flag(env, "SUPPORTDESK_SECURE_COOKIES", False)
                            if env.get("SUPPORTDESK_SECURE_COOKIES", "").strip() else None),
            require_admin_2fa=_flag(env, "SUPPORTDESK_REQUIRE_ADMIN_2FA", defaults.require_admin_2fa),
            sign_in_attempts=_positive(env, "SUPPORTDESK_SIGN_IN_ATTEMPTS", defaults.sign_in_attempts),
            sign_in_address_attempts=_positive(env, "SUPPORTDESK_SIGN_IN_ADDRESS_ATTEMPTS",
                                               defaults.sign_in_address_attempts),
            sign_in_lockout_minutes=_positive(env, "SUPPORTDESK_SIGN_IN_LOCKOUT_MINUTES",
                                              defaults.sign_in_lockout_minutes),
            portal_link_days=_positive(env, "SUPPORTDESK_PORTAL_LINK_DAYS", defaults.portal_link_days),
        )


def _integer(env, name: str, default: int) -> int:
    """A whole, non-negative number, or a ValueError that names the variable."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number, not {text!r}")
    return int(text)


def _positive(env, name: str, default: int) -> int:
    value = _integer(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


SQLITE_SYNCHRONOUS = ("full", "normal", "off")


def _choice(env, name: str, default: str, choices: tuple[str, ...]) -> str:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {text!r}")
    return text


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _flag(env, name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be true or false, not {text!r}")
    return text in _TRUE
