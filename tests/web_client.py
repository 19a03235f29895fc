"""Driving the web desk through Flask's test client: reading a page's inputs and CSRF tokens, signing in,
and hashing the demo users' passwords cheaply so that making them does not cost a second per test."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from werkzeug.security import generate_password_hash

from supportdesk.engine.people import users
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.engine.store.models import OutboxMail
from supportdesk.web import create_app

PASSWORD = "kettle window orbit 42"  # every demo user's password in tests (it passes the password policy)


class _Inputs(HTMLParser):
    """The named inputs, selects and textareas of a page, for reading tokens and form shapes."""

    def __init__(self):
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.tags: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag in ("input", "select", "textarea") and name:
            self.inputs.setdefault(name, attributes)
            self.tags.setdefault(name, tag)
        if tag == "select":
            self._select = name
            self.options[name] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(attributes.get("value"))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def parse(response) -> _Inputs:
    parser = _Inputs()
    parser.feed(response.get_data(as_text=True))
    return parser


def token(response, form: str | None = None) -> str:
    """The page's CSRF token; a form with a prefix (``form="information"``) names it ``information-csrf_token``."""
    return hidden(response, "csrf_token" if form is None else f"{form}-csrf_token")


def hidden(response, name: str) -> str:
    return parse(response).inputs[name]["value"]


def text(response) -> str:
    return response.get_data(as_text=True)


def demo_users(desk) -> None:
    """The demo users (one per role), all with ``PASSWORD``."""
    ensure_demo_users(desk, password=PASSWORD)


def desk_app(desk):
    """The web desk on ``desk`` for the test client, with the demo users (one per role, password ``PASSWORD``)."""
    demo_users(desk)
    return create_app(desk, testing=True)


def sign_in(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    """Post the sign-in form and return the answer, so that tests can look at refusals too."""
    url = "/login" if next_url is None else f"/login?next={next_url}"
    page = client.get(url)
    return client.post(url, data={"csrf_token": token(page), "username": username, "password": password})


def signed_in(client, username: str):
    """``client`` signed in as ``username``, for tests that are about something else than signing in."""
    assert sign_in(client, username).status_code == 302
    return client


def use_quick_password_hashes(monkeypatch) -> None:
    """Hash the demo users' passwords with a cheap method: a real one costs a second per user.
    Checking reads the method from the stored hash, so signing in still goes through werkzeug."""
    monkeypatch.setattr(
        users, "generate_password_hash", lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000")
    )


PORTAL_LINK = re.compile(r"(http://\S+/portal/)(\S+)")


def portal_link(desk, reference) -> tuple[str, str]:
    """The portal path and token from the confirmation mail of ``reference``."""
    with desk.db.reading() as session:
        mail = (
            session.query(OutboxMail)
            .filter(OutboxMail.template == "confirmation", OutboxMail.subject.startswith(f"[{reference}]"))
            .one()
        )
    match = PORTAL_LINK.search(mail.body_text)
    return f"/portal/{match.group(2)}", match.group(2)
