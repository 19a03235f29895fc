"""Accounts: the customer organisations and the Account Manager who looks after each (C10, C19,
C20, C28 send work to "the Account Manager").

A call keeps the account name it was logged with (``ticket.account``); this table adds who the
account's manager is and its licence type, for the people and systems that manage them (the REST
API). Names are the key callers know, so an account is found by its name and never renamed: a
call logged under a name keeps pointing at the same account.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, InvalidInput, NotFound
from supportdesk.engine.store.models import Account, User
from supportdesk.engine.tickets.calls import FIELD_LIMITS, LICENCE_TYPES
from supportdesk.engine.tickets.unit_of_work import UnitOfWork

ACCOUNT_MANAGER_ROLE = "account_manager"
LIST_LIMIT = 500


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# "Leave it as it is" in an update, where None means "clear it".
UNSET: Final = _Unset()


@dataclass(frozen=True)
class AccountView:
    name: str
    account_manager: str | None
    licence_type: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str


def _view(row: Account) -> AccountView:
    return AccountView(row.name, row.account_manager, row.licence_type, row.created_at, row.updated_at, row.updated_by)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    limit = FIELD_LIMITS["account"]
    if not name:
        raise InvalidInput("the account needs a name", {"name": "Name is required"})
    if len(name) > limit:
        raise InvalidInput("the name is too long", {"name": f"Name allows at most {limit} characters"})
    return name


def _check(session, account_manager: str | _Unset | None, licence_type: str | _Unset | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if isinstance(account_manager, str):
        user = session.scalar(select(User).where(User.username == account_manager))
        if user is None:
            errors["account_manager"] = f"There is no user {account_manager!r}"
        elif ACCOUNT_MANAGER_ROLE not in user.roles:
            errors["account_manager"] = f"{account_manager} does not have the Account manager role"
    if isinstance(licence_type, str) and licence_type not in LICENCE_TYPES:
        errors["licence_type"] = f"Licence type must be one of: {', '.join(LICENCE_TYPES)}"
    return errors


@dataclass(frozen=True)
class NewAccount:
    """An account to create, with its Account Manager (a person with that role) and licence type."""

    name: str
    account_manager: str | None = None
    licence_type: str | None = None

    def validated(self) -> NewAccount:
        return replace(self, name=_clean_name(self.name))


@dataclass(frozen=True)
class AccountChange:
    """A change to the account named ``name``: its manager or licence type (None clears it; UNSET, the
    default, leaves it as it is)."""

    name: str
    account_manager: str | _Unset | None = UNSET
    licence_type: str | _Unset | None = UNSET

    def validated(self) -> AccountChange:
        return replace(self, name=_clean_name(self.name))


def create_account(desk: Desk, command: NewAccount, actor: str) -> AccountView:
    """A new account; ConflictError when the name is taken."""
    command = command.validated()
    name = command.name
    with UnitOfWork(desk, actor) as uow:  # a command: the API's idempotency key joins its transaction
        session = uow.session
        errors = _check(session, command.account_manager, command.licence_type)
        if errors:
            raise InvalidInput("the account cannot be created", errors)
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            raise ConflictError(f"there is an account {name!r} already")
        row = Account(
            name=name,
            account_manager=command.account_manager,
            licence_type=command.licence_type,
            created_at=uow.now,
            updated_at=uow.now,
            updated_by=actor,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # made by someone else since we looked
            raise ConflictError(f"there is an account {name!r} already") from None
        return _view(row)


def update_account(desk: Desk, command: AccountChange, actor: str) -> AccountView:
    """Change an account's manager or licence type (None clears it; UNSET leaves it)."""
    command = command.validated()
    with UnitOfWork(desk, actor) as uow:
        session = uow.session
        row = session.scalar(select(Account).where(Account.name == command.name).with_for_update())
        if row is None:
            raise NotFound(f"no account {command.name!r}")
        errors = _check(session, command.account_manager, command.licence_type)
        if errors:
            raise InvalidInput("the account cannot be changed", errors)
        if not isinstance(command.account_manager, _Unset):
            row.account_manager = command.account_manager
        if not isinstance(command.licence_type, _Unset):
            row.licence_type = command.licence_type
        row.updated_at, row.updated_by = uow.now, actor
        return _view(row)


def get_account(desk: Desk, name: str) -> AccountView:
    with desk.db.reading() as session:
        row = session.scalar(select(Account).where(Account.name == name))
        if row is None:
            raise NotFound(f"no account {name!r}")
        return _view(row)


def list_accounts(
    desk: Desk, *, account_manager: str | None = None, limit: int = LIST_LIMIT, offset: int = 0
) -> list[AccountView]:
    """Accounts by name, optionally only those of one Account Manager."""
    query = select(Account)
    if account_manager is not None:
        query = query.where(Account.account_manager == account_manager)
    with desk.db.reading() as session:
        return [_view(row) for row in session.scalars(query.order_by(Account.name).limit(limit).offset(offset))]
