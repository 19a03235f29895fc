"""Accounts and their Account Manager (``engine.accounts``): everyone on the desk reads them; account
managers and admins create and change them. An account is addressed by its name, as calls carry it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import url_for

from supportdesk.engine.people import accounts
from supportdesk.engine.store.models import Account

from .. import current_desk
from ..access import STAFF_ROLES
from . import idempotency, schemas
from .auth import api_user, guarded
from .base import ApiBlueprint
from .tickets import IDEMPOTENT, LOCATION

blp = ApiBlueprint("Accounts", __name__, description="Accounts and their account manager")

ACCOUNT_KEEPERS = ("account_manager",)  # and admin, who passes every check


@blp.route("/accounts")
@guarded(blp, *STAFF_ROLES, errors=(400,))
@blp.arguments(schemas.AccountQuery, location="query")
@blp.response(200, schemas.AccountList)
def list_accounts(query: dict):
    """List accounts

    By name; ``account_manager`` keeps those one person looks after.
    """
    rows = accounts.list_accounts(
        current_desk(), account_manager=query.get("account_manager"), limit=query["limit"], offset=query["offset"]
    )
    return {"items": [asdict(row) for row in rows]}


@blp.route("/accounts", methods=["POST"])
@guarded(blp, *ACCOUNT_KEEPERS, errors=(400, 409, 422))
@blp.arguments(schemas.IdempotencyHeader, location="headers")
@blp.arguments(schemas.AccountIn)
@blp.response(201, schemas.Account, headers={**LOCATION, **IDEMPOTENT})
def create_account(headers: dict, body: dict):
    """Create an account

    With its account manager (a person with the account_manager role) and licence type. A name
    taken already is 409. Account managers and admin. Takes an ``Idempotency-Key``.
    """
    actor = api_user().username

    def command(desk):
        account = accounts.NewAccount(body["name"], body["account_manager"], body["licence_type"])
        return accounts.create_account(desk, account, actor)

    return idempotency.create(
        key=headers.get("key"),
        endpoint="create_account",
        command=command,
        respond=_created_account,
        location=_account_url,
    )


def _created_account(added: list[Any]) -> dict | None:
    row = next((obj for obj in added if isinstance(obj, Account)), None)
    if row is None:
        return None
    return schemas.Account().dump(
        {
            name: getattr(row, name)
            for name in ("name", "account_manager", "licence_type", "created_at", "updated_at", "updated_by")
        }
    )


def _account_url(body: dict) -> str:
    return url_for("Accounts.get_account", name=body["name"])


@blp.route("/accounts/<path:name>")
@guarded(blp, *STAFF_ROLES, errors=(404,))
@blp.response(200, schemas.Account)
def get_account(name: str):
    """An account by its name"""
    return asdict(accounts.get_account(current_desk(), name))


@blp.route("/accounts/<path:name>", methods=["PATCH"])
@guarded(blp, *ACCOUNT_KEEPERS, errors=(400, 404))
@blp.arguments(schemas.AccountChange)
@blp.response(200, schemas.Account)
def update_account(body: dict, name: str):
    """Change an account's manager or licence type

    Only the keys sent change; null clears one. Account managers and admin.
    """
    change = accounts.AccountChange(
        name,
        account_manager=body.get("account_manager", accounts.UNSET),
        licence_type=body.get("licence_type", accounts.UNSET),
    )
    view = accounts.update_account(current_desk(), change, api_user().username)
    return asdict(view)
