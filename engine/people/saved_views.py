"""Saved views of the calls list: a person keeps the list's filters under a name, for themselves or shared
with everyone at the desk (``saved_view``). A view is the list's query string as the list reads it: the
list checks it each time it is opened, as it checks any address typed in.

Each person's names are their own: saving again under a name they used changes that view. A view is
deleted by the person who saved it, or by an admin (a shared view nobody needs any more).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, Forbidden, InvalidInput, NotFound
from supportdesk.engine.store.models import SavedView, User
from supportdesk.engine.tickets.unit_of_work import UnitOfWork

NAME_CHARS = 100  # the column
QUERY_CHARS = 2_000  # a list's query string with every filter set is well under this
UNSTORABLE = ("\x00",)


@dataclass(frozen=True)
class SaveView:
    """The calls list's ``query`` (its query string, no cursor) to keep as ``name``, shared or not."""

    name: str
    query: str
    shared: bool = False

    def validated(self) -> SaveView:
        name, query = " ".join(self.name.split()), self.query.strip().lstrip("?")
        errors = {}
        if not name:
            errors["name"] = "Give the view a name"
        elif len(name) > NAME_CHARS:
            errors["name"] = f"A name holds at most {NAME_CHARS} characters"
        if len(query) > QUERY_CHARS:
            errors["query"] = f"The filters take at most {QUERY_CHARS} characters"
        for field, text in (("name", name), ("query", query)):
            if any(character in text for character in UNSTORABLE) or _surrogate(text):
                errors[field] = "Remove the character that cannot be stored"
        if errors:
            raise InvalidInput("the view cannot be saved", errors)
        return replace(self, name=name, query=query)


def _surrogate(text: str) -> bool:
    return any(0xD800 <= ord(character) <= 0xDFFF for character in text)


@dataclass(frozen=True)
class ViewRow:
    view_id: int
    name: str
    query: str
    shared: bool
    owner: str  # who saved it: a username
    owner_name: str  # ... as people know them


def save_view(desk: Desk, command: SaveView, username: str) -> int:
    """Keep the view (or change the one ``username`` saved under that name); returns its id."""
    command = command.validated()
    with UnitOfWork(desk, username) as uow:
        session = uow.session
        user_id = _user_id(session, username)
        row = session.scalar(
            select(SavedView).where(SavedView.user_id == user_id, SavedView.name == command.name).with_for_update()
        )
        if row is None:
            row = SavedView(user_id=user_id, name=command.name, created_at=uow.now)
            session.add(row)
        row.query, row.shared = command.query, command.shared
        try:
            session.flush()
        except IntegrityError:  # the same person saved the same name at the same moment elsewhere
            raise ConflictError(f"you saved a view called {command.name!r} just now; reload and try again") from None
        return row.id


def views_for(desk: Desk, username: str) -> list[ViewRow]:
    """The views ``username`` may open: their own and everyone's shared ones, by name."""
    with desk.db.reading() as session:
        user_id = _user_id(session, username)
        rows = session.execute(
            select(SavedView.id, SavedView.name, SavedView.query, SavedView.shared, User.username, User.display_name)
            .join(User, User.id == SavedView.user_id)
            .where(or_(SavedView.user_id == user_id, SavedView.shared.is_(True)))
            .order_by(SavedView.name, SavedView.id)
        )
        return [ViewRow(*row) for row in rows]


def delete_view(desk: Desk, view_id: int, username: str, *, any_owner: bool = False) -> str:
    """Delete a view: ``username``'s own, or anyone's with ``any_owner`` (an admin). Returns its name."""
    with UnitOfWork(desk, username) as uow:
        session = uow.session
        row = session.get(SavedView, view_id)
        user_id = _user_id(session, username)
        if row is None or (row.user_id != user_id and not row.shared and not any_owner):
            raise NotFound(f"no view {view_id}")  # somebody's private view is none of anyone else's business
        if row.user_id != user_id and not any_owner:
            raise Forbidden(f"{row.name!r} is shared by someone else: only they or an admin can delete it")
        session.delete(row)
        return row.name


def _user_id(session, username: str) -> int:
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise NotFound(f"no user {username}")
    return user_id
