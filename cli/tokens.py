"""``supportdesk users token create|revoke|list``: personal tokens for the REST API (engine.api_tokens).

Whoever runs the command line owns the store, so these act for anyone (as an admin would).
Register the group under ``users``: ``users_group.add_command(tokens.token)``.
"""

from __future__ import annotations

import click

from supportdesk.engine.people import api_tokens
from supportdesk.engine.working_time.clock import local

from .group import open_desk, reports_desk_errors


@click.group("token")
def token() -> None:
    """Personal API tokens (Authorization: Bearer) for the REST API under /api/v1."""


@token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'CRM sync'.")
@reports_desk_errors
def create(username: str, name: str) -> None:
    """Make a token for USERNAME and print it: it is shown this once, only its hash is kept."""
    info, secret = api_tokens.create_token(open_desk(), username, name, by=None)
    click.echo(f"token {info.id} for {info.username} ({info.name}); keep it, it is not shown again:", err=True)
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", type=int)
@reports_desk_errors
def revoke(token_id: int) -> None:
    """Revoke the token TOKEN_ID (see `list`); it stops working at once."""
    info = api_tokens.revoke_token(open_desk(), token_id, by=None)
    click.echo(
        f"token {info.id} of {info.username} ({info.name}) revoked at {local(info.revoked_at):%Y-%m-%d %H:%M %Z}"
    )


@token.command("list")
@click.argument("username", required=False)
@reports_desk_errors
def list_(username: str | None) -> None:
    """The tokens of USERNAME, or of everyone: id, user, name, made, last used, revoked."""
    for info in api_tokens.list_tokens(open_desk(), username=username, by=None):
        used = f"{local(info.last_used_at):%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
        state = f"revoked {local(info.revoked_at):%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(
            f"{info.id}\t{info.username}\t{info.name}\tmade {local(info.created_at):%Y-%m-%d %H:%M}\t{used}\t{state}"
        )
