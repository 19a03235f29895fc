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
    workflows_dir: Path = PACKAGED_WORKFLOWS
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    portal_url: str = "http://127.0.0.1:5000/portal"
    mail_from: str = "Support desk <support@supportdesk.local>"
    mail_domain: str = "supportdesk.local"  # for Message-IDs
    first_line_address: str = "first-line@supportdesk.local"  # where breach alerts go (C12)

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
            workflows_dir=Path(env.get("SUPPORTDESK_WORKFLOWS_DIR", str(defaults.workflows_dir))),
            secret_key=env.get("SUPPORTDESK_SECRET_KEY", defaults.secret_key),
            portal_url=env.get("SUPPORTDESK_PORTAL_URL", defaults.portal_url),
            mail_from=env.get("SUPPORTDESK_MAIL_FROM", defaults.mail_from),
            mail_domain=env.get("SUPPORTDESK_MAIL_DOMAIN", defaults.mail_domain),
            first_line_address=env.get("SUPPORTDESK_FIRST_LINE_ADDRESS", defaults.first_line_address),
        )
