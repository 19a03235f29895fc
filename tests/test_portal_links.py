"""Portal links (issue 16): they expire, staff revoke them, and a customer asks for a new one by email
without the page telling anybody whose address it is."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from supportdesk.engine.people import portal_access
from supportdesk.engine.store.models import OutboxMail

from helpers import ANN, log_call
from web_client import PORTAL_LINK, portal_link, signed_in, text, token

ASKED = "a new link is on its way to it"


pytestmark = pytest.mark.usefixtures("quick_password_hashes")


@pytest.fixture
def customer(app):
    return app.test_client()


def link_mails(desk, to: str | None = None) -> list[OutboxMail]:
    with desk.db.reading() as session:
        query = session.query(OutboxMail).filter(OutboxMail.template == "portal_link")
        return query.filter(OutboxMail.to_address == to).all() if to else query.all()


def ask_for_link(client, email: str):
    page = client.get("/portal/new-link")
    return client.post("/portal/new-link", data={"csrf_token": token(page), "email": email})


def test_a_link_expires_after_the_configured_days_and_its_session_with_it(desk, customer, frozen_clock):
    desk.settings = replace(desk.settings, portal_link_days=30)
    reference = log_call(desk)
    path, _ = portal_link(desk, reference)
    assert customer.get(path).status_code == 302
    frozen_clock.advance(timedelta(days=29, hours=23))
    assert customer.get("/portal/").status_code == 200
    frozen_clock.advance(timedelta(hours=2))
    assert customer.get("/portal/").status_code == 403  # the open session ended with its link
    expired = customer.get(path)
    assert expired.status_code == 404
    assert "it may have expired" in text(expired)
    assert 'href="/portal/new-link"' in text(expired)


def test_staff_revoke_a_contacts_links_and_the_sessions_opened_with_them(desk, app, customer):
    reference = log_call(desk)
    path, _ = portal_link(desk, reference)
    customer.get(path)
    assert customer.get(f"/portal/calls/{reference}").status_code == 200
    advisor = signed_in(app.test_client(), "alice")
    page = advisor.get(f"/calls/{reference}")
    assert "Revoke their portal links" in text(page)
    answer = advisor.post(
        "/portal/revoke",
        data={"csrf_token": token(page), "contact_email": ANN.contact_email, "next": f"/calls/{reference}"},
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/calls/{reference}"
    assert f"Revoked 1 portal link of {ANN.contact_email}" in text(advisor.get(f"/calls/{reference}"))
    assert customer.get(f"/portal/calls/{reference}").status_code == 403
    assert customer.get(path).status_code == 404


def test_only_staff_who_deal_with_customers_revoke_links(desk, app):
    reference = log_call(desk)
    auditor = signed_in(app.test_client(), "audrey")
    page = auditor.get(f"/calls/{reference}")
    assert "Revoke their portal links" not in text(page)
    assert (
        auditor.post("/portal/revoke", data={"csrf_token": token(page), "contact_email": ANN.contact_email}).status_code
        == 403
    )
    assert app.test_client().post("/portal/revoke", data={"contact_email": ANN.contact_email}).status_code == 400
    with desk.db.reading() as session:
        from supportdesk.engine.store.models import PortalAccess

        assert session.query(PortalAccess).filter(PortalAccess.revoked_at.isnot(None)).count() == 0


def test_a_customer_asks_for_a_new_link_which_is_mailed_to_their_address_only(desk, customer, frozen_clock):
    reference = log_call(desk)
    old_path, _ = portal_link(desk, reference)
    portal_access.revoke_links(desk, ANN.contact_email)
    known = ask_for_link(customer, ANN.contact_email.upper())
    unknown = ask_for_link(customer, "nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 200
    assert ASKED in text(known)
    assert ASKED in text(unknown)
    assert text(known).replace(ANN.contact_email.upper(), "X") == text(unknown).replace("nobody@nowhere.example", "X")
    [mail] = link_mails(desk)
    assert mail.to_address == ANN.contact_email
    assert mail.subject.startswith(f"[{reference}]")
    new_path = "/portal/" + PORTAL_LINK.search(mail.body_text).group(2)
    assert new_path != old_path
    assert customer.get(old_path).status_code == 404
    assert customer.get(new_path).status_code == 302
    assert reference in text(customer.get("/portal/"))
    # Asking again at once sends nothing more (no mail flood); later it does.
    ask_for_link(customer, ANN.contact_email)
    assert len(link_mails(desk)) == 1
    frozen_clock.advance(timedelta(minutes=11))
    ask_for_link(customer, ANN.contact_email)
    assert len(link_mails(desk)) == 2


def test_asking_for_a_link_needs_an_address_and_a_form_token(customer):
    page = customer.get("/portal/new-link")
    answer = customer.post("/portal/new-link", data={"csrf_token": token(page), "email": ""})
    assert answer.status_code == 400
    assert re.search(r'id="email-error">Enter your email address', text(answer))
    assert customer.post("/portal/new-link", data={"email": "ann@example.com"}).status_code == 400
