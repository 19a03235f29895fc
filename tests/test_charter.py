"""The charter, path by path (C01-C30), on the real diagrams and a simulated clock.

Each test is named after the clauses it proves; docs/charter.md links every
clause to its diagram elements and to these tests.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.store.models import Feedback, OutboxMail
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import local

from helpers import (
    ANN,
    FIRST_RESPONSE,
    RESOLUTION,
    RESOLVED_STRAIGHT_AWAY,
    do,
    events,
    history_kinds,
    log_and_triage,
    log_call,
    open_task,
    open_titles,
)

LONDON = WorkingCalendar.default().zone
H = timedelta(hours=1)


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def call(**changes) -> commands.CallDetails:
    return replace(ANN, **changes)


def suggested(desk, reference) -> str:
    return events(desk, reference, "priority_set")[0].payload["suggested"]


def mails(desk, reference=None, template=None) -> list[OutboxMail]:
    with desk.db.reading() as session:
        query = session.query(OutboxMail).order_by(OutboxMail.id)
        rows = query.all()
    wanted = [m for m in rows if template is None or m.template == template]
    if reference is None:
        return wanted
    return [m for m in wanted if m.subject.startswith(f"[{reference}]")]


def clock_view(desk, reference, metric):
    return next(c for c in queries.ticket_view(desk, reference).clocks if c.metric == metric)


def run_timers_at(desk, clock, moment) -> int:
    clock.set(moment)
    return Worker(desk).run_once()


# --- logging (C01-C04) ---------------------------------------------------------------------------------


def test_C01_C02_phone_and_email_calls_enter_the_same_process_with_their_details(desk, frozen_clock):
    by_phone = log_call(desk, details=call(channel="phone", licence_type="on_premise"))
    by_email = log_call(desk, details=call(channel="email", contact_email="Bob@Example.com"))
    for reference in (by_phone, by_email):
        assert open_titles(desk, reference) == ["Confirm priority"]
    logged = events(desk, by_email, "call_logged")[0].payload
    assert logged["channel"] == "email"
    assert logged["contact_email"] == "bob@example.com"
    assert queries.ticket_view(desk, by_phone).history[0].payload["licence_type"] == "on_premise"


def test_C03_C04_the_confirmation_quotes_the_reference_and_the_portal(desk):
    reference = log_call(desk)
    [confirmation] = mails(desk, reference, "confirmation")
    assert confirmation.to_address == "ann@example.com"
    assert confirmation.status == "queued"
    assert confirmation.subject == f"[{reference}] We have logged your call"
    assert reference in confirmation.body_text
    assert desk.settings.portal_url in confirmation.body_text
    assert "1 working hour" in confirmation.body_text
    assert f"<strong>{reference}</strong>" in confirmation.body_html
    assert confirmation.message_id.startswith("<")
    assert confirmation.message_id.endswith("@supportdesk.local>")


def test_C04_a_rolled_back_step_queues_no_mail(desk):
    with pytest.raises(InvalidInput):
        commands.log_call(desk, call(contact_email="nope"), "alice")
    assert mails(desk) == []


# --- priority by the decision table (C05-C11) ----------------------------------------------------------

SIX_SYMPTOMS = [
    "cannot_load_data",
    "cannot_access",
    "software_crashes",
    "cannot_send_tests",
    "campaign_wont_send",
    "template_design_issue",
]


@pytest.mark.parametrize("symptom", SIX_SYMPTOMS)
def test_C06_a_blocking_symptom_with_a_campaign_within_24_hours_is_high(desk, frozen_clock, symptom):
    reference = log_and_triage(desk, details=call(symptom=symptom, campaign_at=frozen_clock.now() + 20 * H))
    assert suggested(desk, reference) == "High"
    assert clock_view(desk, reference, "resolution").target == "8 working hours"


def test_C06_a_blocking_symptom_while_preparing_a_future_campaign_is_high(desk, frozen_clock):
    reference = log_and_triage(desk, details=call(symptom="software_crashes", preparing_campaign=True))
    assert suggested(desk, reference) == "High"


def test_C07_a_campaign_within_3_days_that_the_issue_prevents_is_medium(desk, frozen_clock):
    reference = log_and_triage(desk, details=call(symptom="other", campaign_at=frozen_clock.now() + 60 * H))
    assert suggested(desk, reference) == "Medium"
    assert clock_view(desk, reference, "resolution").target == "16 working hours"


def test_C08_C11_no_campaign_in_the_next_days_is_low_and_anything_else_too(desk, frozen_clock):
    no_campaign = log_and_triage(desk)
    far_campaign = log_and_triage(
        desk, details=call(symptom="software_crashes", campaign_at=frozen_clock.now() + 240 * H)
    )
    assert suggested(desk, no_campaign) == suggested(desk, far_campaign) == "Low"
    assert clock_view(desk, no_campaign, "resolution").target == "10 working days"


def test_C09_an_enhancement_goes_to_the_development_team_and_closes_the_customers_call(desk, frozen_clock):
    reference = log_and_triage(desk, details=call(request_kind="enhancement", summary="Add dark mode"))
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    view = queries.ticket_view(desk, reference)
    assert view.status == "closed"
    assert [c.metric for c in view.clocks] == ["first_response"]
    [notice] = mails(desk, reference, "enhancement")
    assert "Development Team" in notice.body_text
    assert open_titles(desk, reference) == ["Consider enhancement request"]
    assert open_task(desk, reference, "Consider enhancement request").role == "development_team"
    do(desk, reference, "Consider enhancement request", {"decision": "backlog"}, "dev")
    assert open_titles(desk, reference) == []


def test_C10_advice_is_passed_to_the_account_manager_who_contacts_the_customer(desk, frozen_clock):
    reference = log_and_triage(desk, details=call(request_kind="advice", summary="Best send times?"))
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    advice = open_task(desk, reference, "Contact the customer with advice")
    assert advice.role == "account_manager"
    do(desk, reference, "Contact the customer with advice", {"advice": "Tuesday mornings"}, "amy")
    view = queries.ticket_view(desk, reference)
    assert view.status == "closed"
    assert events(desk, reference, "call_closed")[0].payload["outcome"] == "advised"


def test_C05_the_advisor_may_override_the_suggestion_only_with_a_reason(desk, frozen_clock):
    reference = log_call(desk)
    with pytest.raises(InvalidInput) as refused:
        do(desk, reference, "Confirm priority", {"priority": "High"})
    assert "rather than the suggested Low" in refused.value.fields["override_reason"]
    assert open_titles(desk, reference) == ["Confirm priority"]
    do(desk, reference, "Confirm priority", {"priority": "High", "override_reason": "Board demo at noon"})
    [priority] = events(desk, reference, "priority_set")
    assert priority.payload == {"priority": "High", "suggested": "Low", "override_reason": "Board demo at noon"}
    assert queries.ticket_view(desk, reference).clocks[1].priority == "High"


# --- tiered resolution (C15-C18) -----------------------------------------------------------------------


def test_C15_first_line_resolves_straight_away(desk, frozen_clock):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    view = queries.ticket_view(desk, reference)
    assert view.status == "resolved"
    assert all(c.state == "stopped" for c in view.clocks)
    [resolution] = mails(desk, reference, "resolution")
    assert RESOLVED_STRAIGHT_AWAY["resolution"] in resolution.body_text


def test_C16_C17_first_to_second_to_third_line_with_the_advice_round_trip(desk, frozen_clock):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE, "alice")
    do(
        desk,
        reference,
        "Resolve call (second line)",
        {"next_step": "ask_third_line", "handover_reason": "Is the importer's BOM handling known?"},
        "sam",
    )
    advice = open_task(desk, reference, "Advise second line")
    assert advice.role == "third_line"
    do(desk, reference, "Advise second line", {"advice": "Yes: strip the BOM"}, "tara")
    assert open_task(desk, reference, "Resolve call (second line)").role == "second_line"  # back again
    do(
        desk,
        reference,
        "Resolve call (second line)",
        {"next_step": "pass_third_line", "handover_reason": "Needs a server-side fix"},
        "sam",
    )
    do(desk, reference, "Resolve call (third line)", {"resolution": "Patched the importer"}, "tara")
    assert queries.ticket_view(desk, reference).status == "resolved"
    handovers = [(e.actor, e.payload["step"], e.payload["reason"]) for e in events(desk, reference, "handed_over")]
    assert handovers == [
        ("alice", "second_line", "Needs the import logs"),
        ("sam", "ask_third_line", "Is the importer's BOM handling known?"),
        ("sam", "pass_third_line", "Needs a server-side fix"),
    ]


def test_C16_a_handover_without_a_reason_is_refused(desk, frozen_clock):
    reference = log_and_triage(desk)
    with pytest.raises(InvalidInput) as refused:
        do(desk, reference, "First level response", {**FIRST_RESPONSE, "handover_reason": ""})
    assert refused.value.fields == {"handover_reason": "Say why the call is handed over"}
    assert open_titles(desk, reference) == ["First level response"]


def test_C18_any_advisor_sees_the_whole_history_and_any_advisor_answers(desk, frozen_clock):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE, "alice")
    view = queries.ticket_view(desk, reference)  # the same view for every advisor
    assert {"call_logged", "priority_set", "handed_over", "task_completed"} <= {e.kind for e in view.history}
    do(desk, reference, "Resolve call (second line)", RESOLUTION, "another-second-line-advisor")
    assert queries.ticket_view(desk, reference).status == "resolved"


# --- training (C19, C20) -------------------------------------------------------------------------------


@pytest.mark.parametrize("need", ["more_training", "new_user"])
def test_C19_C20_a_training_need_gives_the_account_manager_a_task(desk, frozen_clock, need):
    reference = log_and_triage(desk)
    training = commands.record_training_need(
        desk, commands.RecordTrainingNeed(reference, need, "Two new marketers"), "alice"
    )
    assert training.startswith("TRN-2026-")
    arrange = open_task(desk, training, "Arrange training")
    assert arrange.role == "account_manager"
    assert events(desk, reference, "training_requested")[0].payload["training"] == training
    do(desk, training, "Arrange training", {"arrangement": "Course on 3 Dec", "training_date": "2026-12-03"}, "amy")
    assert queries.ticket_view(desk, training).status == "closed"
    assert open_titles(desk, reference) == ["First level response"]  # the call goes on


# --- Delayed, re-graded, re-opened (C21-C24) -----------------------------------------------------------


def answered_high_call(desk, clock, moment, **details):
    clock.set(moment)
    reference = log_and_triage(desk, details=call(symptom="software_crashes", campaign_at=moment + 5 * H, **details))
    do(desk, reference, "First level response", FIRST_RESPONSE)
    return reference


def test_C22_C23_C24_high_call_delayed_over_a_weekend_is_medium_paused_and_reopened(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 11, 20, 14, 0))  # Friday
    assert local(clock_view(desk, reference, "resolution").due_at) == london(2026, 11, 23, 12, 30)

    frozen_clock.set(london(2026, 11, 20, 16, 0))
    commands.deliver_message(
        desk,
        commands.DeliverMessage(
            reference, "call_delayed", {"reason": "information_awaited", "note": "Asked for the CSV"}
        ),
        "sam",
    )
    view = queries.ticket_view(desk, reference)
    resolution = clock_view(desk, reference, "resolution")
    assert view.status == "delayed"
    assert resolution.priority == "Medium"
    assert resolution.state == "paused"
    assert resolution.remaining == 14 * H
    assert resolution.due_at is None

    frozen_clock.set(london(2026, 11, 23, 10, 0))  # Monday: the weekend and 08:30-10:00 do not count
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "information_received", {"note": "CSV attached"}), "mail"
    )
    resolution = clock_view(desk, reference, "resolution")
    assert queries.ticket_view(desk, reference).status == "open"
    assert resolution.state == "running"
    assert local(resolution.due_at) == london(2026, 11, 24, 14, 30)  # 14h left: 8h Monday, 6h Tuesday
    kinds = history_kinds(desk, reference)
    assert {"call_delayed", "priority_regraded", "sla_paused", "call_reopened", "sla_resumed"} <= set(kinds)
    # The deadline timer follows the clock: it waits for the new due moment.
    with desk.db.reading() as session:
        from supportdesk.engine.store.models import Job

        assert resolution.due_at in [job.due_at for job in session.query(Job)]


def test_C22_delayed_for_information_the_customer_is_told_by_mail_what_the_desk_needs(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 11, 20, 14, 0))
    with pytest.raises(InvalidInput) as refused:  # the advisor must say what is needed: the customer reads it
        commands.deliver_message(
            desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "information_awaited"}), "sam"
        )
    assert "note" in refused.value.fields
    assert queries.ticket_view(desk, reference).status == "open"

    commands.deliver_message(
        desk,
        commands.DeliverMessage(
            reference, "call_delayed", {"reason": "information_awaited", "note": "The CSV you tried to import"}
        ),
        "sam",
    )
    with desk.db.reading() as session:
        [mail] = session.query(OutboxMail).filter_by(template="information_requested").all()
    assert mail.to_address == ANN.contact_email
    assert mail.subject == f"[{reference}] What we need from you for your call"
    assert "Information we asked you for" in mail.body_text
    assert "The CSV you tried to import" in mail.body_text
    assert "(C22)" not in mail.body_text  # the customer's words, not the charter's


def test_C22_a_customer_absent_for_a_deadline_is_told_by_mail_too(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 11, 20, 14, 0))
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "customer_absent"}), "sam"
    )
    with desk.db.reading() as session:
        [mail] = session.query(OutboxMail).filter_by(template="information_requested").all()
    assert "You to be back" in mail.body_text


def test_C21_no_access_to_an_on_premise_environment_regrades_and_delays(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 11, 23, 9, 0), licence_type="on_premise")
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "access_refused"}), "sam"
    )
    assert clock_view(desk, reference, "resolution").priority == "Medium"
    commands.deliver_message(desk, commands.DeliverMessage(reference, "access_granted", {}), "sam")
    assert queries.ticket_view(desk, reference).status == "open"


def test_C21_a_saas_call_cannot_wait_for_environment_access(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 11, 23, 9, 0))
    before = history_kinds(desk, reference)
    with pytest.raises(NotAllowed, match="only an on-premise call"):
        commands.deliver_message(
            desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "access_refused"}), "sam"
        )
    assert history_kinds(desk, reference) == before


def test_C22_customer_absent_delays_and_customer_back_reopens(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 11, 23, 9, 0))
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "customer_absent"}), "sam"
    )
    with pytest.raises(NotAllowed, match="not waiting for the message 'call_delayed'"):
        commands.deliver_message(
            desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "customer_absent"}), "sam"
        )
    commands.deliver_message(desk, commands.DeliverMessage(reference, "customer_back", {}), "sam")
    assert queries.ticket_view(desk, reference).status == "open"


# --- keeping the customer informed (C14, C26, C27) -----------------------------------------------------


def test_C14_C26_daily_updates_after_a_breach_skip_weekends_and_bank_holidays(desk, frozen_clock):
    reference = answered_high_call(desk, frozen_clock, london(2026, 12, 24, 9, 0))  # Thursday, Christmas Eve
    due = clock_view(desk, reference, "resolution").due_at
    assert local(due) == london(2026, 12, 24, 17, 0)
    assert run_timers_at(desk, frozen_clock, london(2026, 12, 24, 17, 0, 1)) == 1
    assert events(desk, reference, "sla_breached")[0].payload["clock"] == "resolution"
    # 25 Dec (Christmas), the weekend and 28 Dec (substitute for Boxing Day) are closed.
    assert run_timers_at(desk, frozen_clock, london(2026, 12, 28, 23, 0)) == 0
    assert run_timers_at(desk, frozen_clock, london(2026, 12, 29, 17, 0, 2)) == 1
    assert run_timers_at(desk, frozen_clock, london(2026, 12, 30, 17, 0, 3)) == 1
    updates = [local(m.created_at) for m in mails(desk, reference, "progress_update")]
    assert [u.strftime("%a %d %b %H:%M") for u in updates] == [
        "Thu 24 Dec 17:00",
        "Tue 29 Dec 17:00",
        "Wed 30 Dec 17:00",
    ]
    do(desk, reference, "Resolve call (second line)", RESOLUTION, "sam")
    run_timers_at(desk, frozen_clock, london(2027, 1, 5, 17, 0))  # the next day's timer finds it resolved
    assert len(mails(desk, reference, "progress_update")) == 3


def test_C27_feedback_on_a_resolved_call_is_kept_with_it(desk, frozen_clock):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "feedback", {"rating": 4, "comment": "Quick, thanks"}), "portal"
    )
    with desk.db.reading() as session:
        [feedback] = session.query(Feedback).all()
    assert (feedback.rating, feedback.comment) == (4, "Quick, thanks")
    assert queries.ticket_view(desk, reference).status == "closed"


def test_C27_without_feedback_the_call_closes_after_five_working_days(desk, frozen_clock):
    frozen_clock.set(london(2026, 11, 23, 10, 0))
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    assert run_timers_at(desk, frozen_clock, london(2026, 11, 30, 10, 0)) == 0  # Monday next: 5 days is Mon 10:00
    assert run_timers_at(desk, frozen_clock, london(2026, 11, 30, 10, 0, 1)) == 1
    assert queries.ticket_view(desk, reference).status == "closed"


def test_C25_a_customer_sees_only_their_own_calls(desk):
    mine = log_call(desk)
    log_call(desk, details=call(contact_email="someone@else.example"))
    assert [c.reference for c in queries.customer_calls(desk, "ANN@example.com")] == [mine]


# --- escalation (C28-C30) ------------------------------------------------------------------------------


def test_C28_C29_C30_an_escalation_from_a_call_runs_to_a_response(desk, frozen_clock):
    reference = log_and_triage(desk)
    escalation = commands.start_escalation(
        desk, commands.StartEscalation("Nobody called me back", call_reference=reference), "amy"
    )
    assert escalation.startswith("ESC-2026-")
    assert events(desk, reference, "escalation_started")[0].payload == {"escalation": escalation}
    view = queries.ticket_view(desk, escalation)
    assert (view.contact_email, view.account) == ("ann@example.com", "Acme Ltd")

    do(desk, escalation, "Bring the concern to the Customer Services Manager", {"concern": "No call-back"}, "amy")
    do(
        desk,
        escalation,
        "Investigate the concern",
        {"findings": "Queue overloaded", "information": "more_needed"},
        "carl",
    )
    do(desk, escalation, "Gather more information", {"information_found": "Rota gap on Friday"}, "amy")
    do(desk, escalation, "Investigate the concern", {"findings": "Rota gap", "information": "complete"}, "carl")
    assert open_task(desk, escalation, "Respond to the customer").role == "customer_services_manager"
    do(desk, escalation, "Respond to the customer", {"response": "We have added cover on Fridays."}, "carl")
    [response] = mails(desk, escalation, "escalation_response")
    assert "We have added cover on Fridays." in response.body_text
    assert queries.ticket_view(desk, escalation).status == "closed"


def test_C28_an_escalation_may_start_on_its_own(desk, frozen_clock):
    escalation = commands.start_escalation(
        desk,
        commands.StartEscalation(
            "Invoices are wrong", contact_name="Zed", contact_email="zed@example.com", account="Zed Co"
        ),
        "amy",
    )
    assert open_task(desk, escalation, "Bring the concern to the Customer Services Manager").role == "account_manager"
