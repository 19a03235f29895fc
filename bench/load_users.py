"""The people of item 9's load test, for locust (``bench/load.py`` runs it headless; not a file to run alone).

A support team's morning: advisors sign in and work their inbox (read it, open ticket pages, search,
claim and complete tasks, reply to customers); an API client logs calls with idempotency keys (and
retries some with the same key); customers read and write on the portal; customers' mail comes in over
SMTP. Every command the desk acknowledges (a 2xx or redirect after the write) is appended to the acks
file as one JSON line, so ``load.py`` can check afterwards that each is in the store exactly once. A 409
(someone else took the task first) is the desk refusing correctly: it is counted as a conflict, not an
error. ``CommandClient`` is item 10's: API commands back to back, no waiting.

Reads ``SUPPORTDESK_LOAD_FIXTURE`` (the JSON ``load.py`` wrote: users, token, customers) and appends to
``SUPPORTDESK_LOAD_ACKS``.
"""

from __future__ import annotations

import json
import os
import random
import re
import smtplib
import time
import uuid
from email.message import EmailMessage
from html.parser import HTMLParser

from locust import HttpUser, User, between, constant, events, task

FIXTURE = json.loads(open(os.environ["SUPPORTDESK_LOAD_FIXTURE"], encoding="utf-8").read())  # noqa: SIM115
ACKS = open(os.environ["SUPPORTDESK_LOAD_ACKS"], "a", encoding="utf-8")  # noqa: SIM115  (open for the run)
TASK_LINK = re.compile(r'href="/tasks/([0-9a-f-]{36})"')
CALL_LINK = re.compile(r'href="/calls/((?:SUP|ESC|TRN)-[0-9A-Z-]+)"')
# What an advisor answers on each task (the form names its fields field_<name>; anything else on the form
# keeps the value it opened with: triage confirms the suggested priority).
ANSWERS = {
    "First level response": {
        "response_method": "phone",
        "response": "Walked the customer through it",
        "next_step": "resolved",
        "resolution": "Re-sent the invitation; the user can sign in",
    },
    "Resolve call (second line)": {"next_step": "resolved", "resolution": "Fixed the import and reloaded it"},
}
SEARCH_WORDS = ("campaign", "import", "invoice", "password", "login", "export", "report")


def refusal(html: str) -> str:
    """What a refused form says, in words (its alert and the errors under it)."""
    start = html.find('role="alert"')
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[start : start + 1500])).strip()[:300]


def pace(slow):
    """The think time between a person's actions: ``slow`` (a wait_time), or, for the one-user runs that
    take each page's latency alone (SUPPORTDESK_LOAD_PACE=fast), a short pause to gather more samples."""
    return between(0.2, 0.5) if os.environ.get("SUPPORTDESK_LOAD_PACE") == "fast" else slow


def acknowledge(kind: str, **what) -> None:
    ACKS.write(json.dumps({"kind": kind, **what}) + "\n")
    ACKS.flush()


class _Form(HTMLParser):
    """A page's inputs (name: value; a select's selected or first option), per form action."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._action: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._action = a.get("action") or ""
            self.forms.setdefault(self._action, {})
        fields = self.forms.get(self._action) if self._action is not None else None
        name = a.get("name")
        if fields is None or not name:
            choosing = tag == "option" and fields is not None and self._select is not None
            if choosing and (self._select not in fields or "selected" in a):
                fields[self._select] = a.get("value") or ""
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            fields[name] = a.get("value") or ""
        elif tag == "textarea":
            fields[name] = ""
        elif tag == "select":
            self._select = name

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._action = None


def forms_of(html: str) -> dict[str, dict[str, str]]:
    parser = _Form()
    parser.feed(html)
    return parser.forms


# Where each kind of written entry is posted, under the call's page, and the name locust reports it by.
WRITTEN = {
    "reply": ("/calls/{reference}/reply", "/calls/<ref>/reply", "reply-body"),
    "portal_message": ("/portal/calls/{reference}/messages", "/portal/calls/<ref>/messages", "message-body"),
}


def write_and_acknowledge(client, page_html: str, kind: str, reference: str, text: str) -> None:
    """Fill the page's form of ``kind`` with ``text`` (its ``{token}`` a fresh one) and send it; a redirect
    is the desk's acknowledgement, recorded for the store check at the end."""
    action_end, name, default_field = WRITTEN[kind]
    found = form_ending(page_html, action_end.format(reference=reference))
    if found is None:
        return
    token = uuid.uuid4().hex
    fields = {**found[1]}
    body_field = next((field for field in fields if field.endswith("body")), default_field)
    fields[body_field] = text.format(token=token)
    with client.post(found[0], data=fields, name=name, catch_response=True, allow_redirects=False) as answer:
        if answer.status_code in (302, 303):
            acknowledge(kind, token=token, reference=reference)
            answer.success()


def form_ending(html: str, action_end: str) -> tuple[str, dict[str, str]] | None:
    """The form whose action ends with ``action_end``: (its action, its fields)."""
    return next(((a, f) for a, f in forms_of(html).items() if a.endswith(action_end)), None)


class Advisor(HttpUser):
    """First line (most of the team) or second line: signs in, then works the inbox."""

    weight = 6
    wait_time = pace(between(5, 15))

    def on_start(self):
        self.person = random.choice(FIXTURE["advisors"])
        login = self.client.get("/login", name="/login")
        fields = forms_of(login.text).get("", {})
        fields.update(username=self.person["username"], password=FIXTURE["password"])
        self.client.post("/login", data=fields, name="/login [sign in]")

    @task(4)
    def inbox(self):
        self.client.get("/tasks", name="/tasks [inbox]")

    @task(3)
    def ticket_page(self):
        listing = self.client.get("/calls", name="/calls [list]")
        references = CALL_LINK.findall(listing.text)
        if references:
            self.client.get(f"/calls/{random.choice(references)}", name="/calls/<ref> [ticket page]")

    @task(2)
    def search(self):
        self.client.get(f"/calls?q={random.choice(SEARCH_WORDS)}", name="/calls?q= [search]")

    @task(4)
    def claim_and_complete(self):
        inbox = self.client.get("/tasks", name="/tasks [inbox]")
        task_ids = TASK_LINK.findall(inbox.text)
        if not task_ids:
            return
        task_id = random.choice(task_ids)
        found = form_ending(inbox.text, f"/tasks/{task_id}/claim")  # the inbox's claim button
        if found is not None:
            # Back to the inbox either way, saying what happened (someone else may have claimed it first).
            with self.client.post(found[0], data=found[1], name="/tasks/<id>/claim", catch_response=True) as answer:
                if answer.status_code == 200 and "You have claimed" in answer.text:
                    acknowledge("claim", task_id=task_id, actor=self.person["username"])
                elif answer.status_code == 200:
                    return  # a correct refusal: taken by someone else
        with self.client.get(f"/tasks/{task_id}", name="/tasks/<id> [task form]", catch_response=True) as page:
            if page.status_code == 404:  # done by someone else since the inbox was read: a correct answer
                page.success()
                return
        if page.status_code != 200:
            return
        completing = form_ending(page.text, f"/tasks/{task_id}")
        if completing is None:
            return
        title = next((t for t in ANSWERS if t in page.text), None)
        fields = {**completing[1], **{f"field_{name}": value for name, value in ANSWERS.get(title, {}).items()}}
        with self.client.post(
            completing[0], data=fields, name="/tasks/<id> [complete]", catch_response=True, allow_redirects=False
        ) as answer:
            if answer.status_code in (302, 303):
                acknowledge("complete", task_id=task_id, actor=self.person["username"])
                answer.success()
            elif answer.status_code == 409:
                answer.success()  # completed by someone else first, or the call moved on: nothing saved
            elif answer.status_code == 400:
                answer.failure(f"the form was refused: {refusal(answer.text)}")

    @task(1)
    def reply(self):
        reference = random.choice(FIXTURE["customers"])["reference"]
        page = self.client.get(f"/calls/{reference}", name="/calls/<ref> [ticket page]")
        write_and_acknowledge(self.client, page.text, "reply", reference, "We are on it (reply {token}).")


class ApiClient(HttpUser):
    """A phone system logging calls through the API, each with an idempotency key; one in five is sent
    twice with the same key (a retry after a lost answer): one call either way."""

    weight = 1
    wait_time = pace(between(3, 8))

    def on_start(self):
        self.headers = {"Authorization": f"Bearer {FIXTURE['api_token']}"}

    @task
    def log_call(self):
        key = uuid.uuid4().hex
        body = {
            "contact_name": "Pat Caller",
            "contact_email": f"pat.{key[:8]}@example.com",
            "account": "Acme Ltd",
            "summary": f"Cannot export the campaign report ({key})",
            "channel": "phone",
        }
        sends = 2 if random.random() < 0.2 else 1
        for _ in range(sends):
            with self.client.post(
                "/api/v1/calls",
                json=body,
                headers={**self.headers, "Idempotency-Key": key},
                name="/api/v1/calls",
                catch_response=True,
            ) as answer:
                if answer.status_code == 201:
                    acknowledge("api_call", key=key, reference=answer.json()["reference"])
        self.client.get("/api/v1/tasks", headers=self.headers, name="/api/v1/tasks")


class Customer(HttpUser):
    """A customer with a portal link: reads their calls and writes on one."""

    weight = 2
    wait_time = pace(between(10, 30))

    def on_start(self):
        self.me = random.choice(FIXTURE["customers"])
        self.client.get(f"/portal/{self.me['token']}", name="/portal/<token> [enter]")

    @task(3)
    def read(self):
        self.client.get("/portal/", name="/portal/ [my calls]")
        self.client.get(f"/portal/calls/{self.me['reference']}", name="/portal/calls/<ref>")

    @task(1)
    def write(self):
        reference = self.me["reference"]
        page = self.client.get(f"/portal/calls/{reference}", name="/portal/calls/<ref>")
        write_and_acknowledge(self.client, page.text, "portal_message", reference, "Any news? ({token})")


class MailSender(User):
    """Customers' mail to the support address: new calls, over SMTP to ``supportdesk mail-server``."""

    weight = 1
    wait_time = pace(between(10, 20))

    @task
    def send(self):
        key = uuid.uuid4().hex
        message = EmailMessage()
        message["From"] = f"Sam Sender <sam.{key[:8]}@example.org>"
        message["To"] = FIXTURE["support_address"]
        message["Subject"] = f"The nightly import failed ({key[:8]})"
        message["Message-ID"] = f"<{key}@example.org>"
        message.set_content(f"Hello, the nightly import failed again this morning. {key}")
        started, error = time.perf_counter(), None
        try:
            with smtplib.SMTP("127.0.0.1", FIXTURE["mail_port"], timeout=30) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            error = exc
        else:
            acknowledge("mail", message_id=message["Message-ID"])
        events.request.fire(
            request_type="SMTP",
            name="inbound mail",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(message.as_bytes()),
            exception=error,
            context={},
        )


class CommandClient(HttpUser):
    """Item 10: API commands back to back (log a call, confirm its priority, resolve it at first line)."""

    weight = 1  # load.py names the classes of each run: this one only in item 10
    wait_time = constant(0)

    def on_start(self):
        self.headers = {"Authorization": f"Bearer {FIXTURE['api_token']}"}

    @task
    def call_through(self):
        key = uuid.uuid4().hex
        body = {
            "contact_name": "Pat Caller",
            "contact_email": "pat@example.com",
            "account": "Acme Ltd",
            "summary": f"Cannot sign in ({key})",
            "channel": "phone",
        }
        answer = self.client.post(
            "/api/v1/calls", json=body, headers={**self.headers, "Idempotency-Key": key}, name="command: log call"
        )
        if answer.status_code != 201:
            return
        acknowledge("command", what="log_call", reference=answer.json()["reference"])
        reference = answer.json()["reference"]
        for data in ({}, ANSWERS["First level response"]):
            ticket = self.client.get(f"/api/v1/tickets/{reference}", headers=self.headers, name="read ticket")
            if ticket.status_code != 200 or not ticket.json().get("open_tasks"):
                return
            open_task = ticket.json()["open_tasks"][0]
            done = self.client.post(
                f"/api/v1/tasks/{open_task['task_id']}/complete",
                json={"data": data, "revision": ticket.json()["revision"]},
                headers=self.headers,
                name="command: complete task",
            )
            if done.status_code != 200:
                return
            acknowledge("command", what="complete", task_id=open_task["task_id"])
