"""The customer portal (C25, C27, C28): the link in the confirmation mail opens the
customer's own calls and nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest

from supportdesk.engine.store.models import PortalAccess
from supportdesk.engine.tickets import queries
from supportdesk.web import create_app

from helpers import ANN, RESOLVED_STRAIGHT_AWAY, delay_for_information, do, events, log_and_triage, log_call
from web_client import portal_link, text
from web_client import token as csrf_token  # in this module a bare "token" is the portal link's


@pytest.fixture
def customer(desk):
    return create_app(desk, testing=True).test_client()


def test_C25_the_token_is_long_random_and_stored_only_as_a_hash(desk):
    reference = log_call(desk)
    _, token = portal_link(desk, reference)
    assert len(token) >= 43  # 32 random bytes, base64url: 256 bits
    with desk.db.reading() as session:
        [access] = session.query(PortalAccess).all()
    assert access.token_hash != token
    assert len(access.token_hash) == 64
    assert token not in access.token_hash


def test_C25_the_confirmation_link_shows_exactly_the_customers_own_calls(desk, customer):
    mine = log_call(desk)
    also_mine = log_call(desk, details=replace(ANN, summary="Second problem"))
    theirs = log_call(desk, details=replace(ANN, contact_email="zed@other.example", summary="Zed's secret"))
    path, _ = portal_link(desk, mine)
    assert customer.get(path).status_code == 302
    page = customer.get("/portal/").get_data(as_text=True)
    assert mine in page
    assert also_mine in page
    assert theirs not in page
    assert "Zed's secret" not in page
    assert customer.get(f"/portal/calls/{mine}").status_code == 200
    assert customer.get(f"/portal/calls/{theirs}").status_code == 404


def test_C25_a_second_customers_token_cannot_see_the_first_customers_call(desk, customer):
    first = log_call(desk)
    second = log_call(desk, details=replace(ANN, contact_email="zed@other.example"))
    path, _ = portal_link(desk, second)
    customer.get(path)
    assert customer.get(f"/portal/calls/{first}").status_code == 404
    assert first not in customer.get("/portal/").get_data(as_text=True)


def test_C25_a_wrong_token_opens_nothing_and_no_token_means_no_access(desk, customer):
    log_call(desk)
    assert customer.get("/portal/not-a-real-token").status_code == 404
    assert customer.get("/portal/").status_code == 403


def test_C25_advisors_notes_are_not_shown_to_the_customer(desk, customer):
    reference = log_and_triage(desk)
    do(
        desk,
        reference,
        "First level response",
        {
            "response_method": "phone",
            "response": "Called",
            "next_step": "second_line",
            "handover_reason": "INTERNAL: customer is difficult",
        },
    )
    customer.get(portal_link(desk, reference)[0])
    page = customer.get(f"/portal/calls/{reference}").get_data(as_text=True)
    assert "INTERNAL" not in page
    assert "Called" not in page
    assert "Our support team is working on your call." in page


def test_C24_C25_information_added_on_the_portal_reopens_a_delayed_call(desk, customer):
    reference = log_and_triage(desk)
    do(
        desk,
        reference,
        "First level response",
        {"response_method": "phone", "response": "Called", "next_step": "second_line", "handover_reason": "logs"},
    )
    delay_for_information(desk, reference)
    customer.get(portal_link(desk, reference)[0])
    page = customer.get(f"/portal/calls/{reference}")
    waiting = "Information we asked you for: Please send the import log"
    assert f'<dt>What we are waiting for</dt><dd class="waiting-for">{waiting}</dd>' in text(page)
    response = customer.post(  # the portal's "Write to us" form: a message in the call's conversation
        f"/portal/calls/{reference}/messages",
        data={"message-csrf_token": csrf_token(page, form="message"), "message-body": "CSV attached"},
    )
    assert response.status_code == 302
    assert queries.ticket_view(desk, reference).status == "open"
    assert events(desk, reference, "portal_message_added")[0].payload["body"] == "CSV attached"


def test_C27_feedback_on_a_resolved_call_from_the_portal(desk, customer):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    customer.get(portal_link(desk, reference)[0])
    page = customer.get(f"/portal/calls/{reference}")
    response = customer.post(
        f"/portal/calls/{reference}/feedback",
        data={
            "feedback-csrf_token": csrf_token(page, form="feedback"),
            "feedback-rating": "5",
            "feedback-comment": "Lovely",
        },
    )
    assert response.status_code == 302
    assert events(desk, reference, "feedback_received")[0].payload == {"rating": 5, "comment": "Lovely"}
    assert queries.ticket_view(desk, reference).status == "closed"


def test_C28_the_customer_asks_to_escalate(desk, customer):
    reference = log_and_triage(desk)
    customer.get(portal_link(desk, reference)[0])
    page = customer.get(f"/portal/calls/{reference}")
    response = customer.post(
        f"/portal/calls/{reference}/escalation",
        data={
            "escalation-csrf_token": csrf_token(page, form="escalation"),
            "escalation-concern": "Nobody has called me",
        },
    )
    assert response.status_code == 302
    [started] = events(desk, reference, "escalation_started")
    assert started.actor == "customer:ann@example.com"


def test_a_portal_form_without_its_token_is_refused(desk, customer):
    reference = log_and_triage(desk)
    customer.get(portal_link(desk, reference)[0])
    response = customer.post(f"/portal/calls/{reference}/messages", data={"message-body": "x"})
    assert response.status_code == 400
    assert events(desk, reference, "portal_message_added") == []
