"""Simulation: calls run through the real diagrams on a simulated clock.

``simulate(desk, tickets=N, days=D, seed=S)`` logs N calls spread over D days
and lets simulated people work them: advisors pick up the tasks the diagrams
open after plausible working-time delays (usually in time, sometimes late),
calls go Delayed and come back, customers send feedback, escalate, or need
training. It serves demos, benchmarks and tests, and lets a process owner see
what a diagram or SLA policy change does to SLA attainment before deploying it.

It is a discrete-event simulation: a queue of (moment, action). Before each
action the one clock is moved to the action's moment, and the timers that
fall due on the way fire at their own moments, as the worker would fire them.
Every change goes through the engine's commands, so the tickets, histories,
SLA clocks and queued mails are real; the summary is read back through the
queries. The simulation does not deliver mail: it fires timers only.

Randomness: the arrival moments come from ``Random(seed)``; each call then
has a ``Random`` of its own, derived from the seed and the call's number, for
everything about it (its details, its path, every delay). A diagram or policy
change that alters one call's path leaves the other calls' draws alone, so two
runs with the same seed compare like with like. The same seed on the same
store state gives the same tickets and the same history.

The simulation drives the clock of its own thread only (``clock.at`` and
``clock.move_here``): a worker's timers or a web request in another thread of
the same process keep their own time, so a forecast can simulate inside the
worker.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from random import Random

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, InvalidInput, NotAllowed, NotFound
from supportdesk.engine.process.forms import FormField
from supportdesk.engine.tickets import commands, jobs, queries
from supportdesk.engine.tickets.calls import SYMPTOMS, CallDetails
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock, local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, PRIORITIES, RESOLUTION

log = logging.getLogger(__name__)

# SpiffWorkflow fires a timer strictly after its due moment: this long after.
TIMER_LAG = timedelta(seconds=1)
OPEN_TASKS_PAGE = 500
BEYOND_TRIES = 50


# --- how the simulated people behave -------------------------------------------------------------------


@dataclass(frozen=True)
class Delay:
    """A working-time delay in minutes: triangular(low, mode, high), or, for a
    ``late_share`` of the draws, uniform over ``late`` (a late response)."""

    low: float
    mode: float
    high: float
    late_share: float = 0.0
    late: tuple[float, float] = (0.0, 0.0)

    def draw(self, rng: Random) -> timedelta:
        if self.late_share and rng.random() < self.late_share:
            minutes = rng.uniform(*self.late)
        else:
            minutes = rng.triangular(self.low, self.high, self.mode)
        return timedelta(seconds=round(minutes * 60))


@dataclass(frozen=True)
class Sampled:
    """A working-time delay drawn from minutes seen (the forecast learns them from the store's history)."""

    minutes: tuple[float, ...]

    def draw(self, rng: Random) -> timedelta:
        return timedelta(seconds=round(rng.choice(self.minutes) * 60))


OVERDUE_PICK_UP = Delay(5, 30, 120)


def draw_beyond(delay: Delay | Sampled, rng: Random, elapsed: timedelta) -> timedelta:
    """A draw of ``delay`` longer than ``elapsed``: how long a task already open that long stays open in
    all (a task picked up from a store as it stands has waited already). Older than every draw tried: it
    is taken up within ``OVERDUE_PICK_UP`` more."""
    if elapsed <= timedelta(0):
        return delay.draw(rng)
    for _ in range(BEYOND_TRIES):
        drawn = delay.draw(rng)
        if drawn > elapsed:
            return drawn
    return elapsed + OVERDUE_PICK_UP.draw(rng)


def _pick_up_delays() -> dict[str, Delay | Sampled]:
    """How long after a task opens someone does it, by task title (working minutes)."""
    return {
        "Confirm priority": Delay(1, 3, 12),
        "First level response": Delay(5, 20, 50, late_share=0.12, late=(50, 180)),
        "Resolve call (second line)": Delay(30, 150, 420, late_share=0.15, late=(420, 1200)),
        "Advise second line": Delay(20, 90, 300),
        "Resolve call (third line)": Delay(60, 240, 720, late_share=0.2, late=(720, 2400)),
        "Consider enhancement request": Delay(60, 960, 4800),
        "Contact the customer with advice": Delay(30, 180, 600),
        "Arrange training": Delay(60, 480, 1800),
        "Bring the concern to the Customer Services Manager": Delay(10, 60, 240),
        "Investigate the concern": Delay(60, 300, 1200),
        "Gather more information": Delay(60, 240, 900),
        "Respond to the customer": Delay(30, 120, 480),
    }


@dataclass(frozen=True)
class Behaviour:
    """Shares of calls and working-time delays; change them to ask "what if"."""

    out_of_hours: float = 0.1  # calls that arrive while the line is closed (they come by email)
    email: float = 0.35  # calls in working hours that come by email
    on_premise: float = 0.3
    request_kinds: dict[str, float] = field(
        default_factory=lambda: {"problem": 0.84, "enhancement": 0.08, "advice": 0.08}
    )
    blocking_symptom: float = 0.6  # C06: the problem blocks a campaign
    campaigns: dict[str, float] = field(
        default_factory=lambda: {"within_24h": 0.3, "within_3_days": 0.25, "later": 0.2, "none": 0.25}
    )
    preparing_campaign: float = 0.1
    override: float = 0.04  # triage overrides the suggested priority
    paths: dict[str, float] = field(
        default_factory=lambda: {
            "first_line": 0.45,
            "second_line": 0.28,
            "ask_third_line": 0.15,
            "pass_third_line": 0.12,
        }
    )
    delayed: float = 0.15  # of the calls passed to second line
    feedback: float = 0.4
    escalation: float = 0.05
    training: float = 0.05
    more_information: float = 0.3  # escalations whose investigation needs more information first
    pick_up: dict[str, Delay | Sampled] = field(default_factory=_pick_up_delays)
    other_task: Delay = Delay(30, 120, 480)  # a task title the simulation does not know
    delay_starts: Delay = Delay(10, 45, 120)  # after the first level response
    delayed_for: Delay | Sampled = Delay(120, 570, 1140)  # up to two working days
    back_to_work: Delay = Delay(10, 30, 120)  # picking a task up again after a Delayed period
    feedback_after: Delay = Delay(30, 300, 1800)
    escalation_after: Delay = Delay(120, 600, 2400)
    training_after: Delay = Delay(5, 15, 60)

    # Learned per priority where the history holds enough of a task (the forecast's): (title, priority) -> delay.
    pick_up_by_priority: dict[tuple[str, str], Delay | Sampled] = field(default_factory=dict)

    def pick_up_delay(self, title: str, priority: str | None = None) -> Delay | Sampled:
        found = self.pick_up_by_priority.get((title, priority or ""))
        return found or self.pick_up.get(title, self.other_task)


ADVISORS = {
    "first_line": ("alice", "ben", "chloe"),
    "second_line": ("sam", "priya"),
    "third_line": ("tara", "theo"),
    "account_manager": ("amy",),
    "customer_services_manager": ("carl",),
    "development_team": ("dev",),
}
CONTACTS = (
    ("Ann Example", "Acme Ltd"),
    ("Raj Patel", "Brightmail"),
    ("Li Wei", "Cobalt Retail"),
    ("Maria Rossi", "Dolce Foods"),
    ("Tom Baker", "Evergreen Travel"),
    ("Sara Nilsson", "Fjord Outdoor"),
    ("Kofi Mensah", "Gold Coast Media"),
    ("Emma Jones", "Harbour Books"),
    ("Yusuf Demir", "Istanbul Rugs"),
    ("Chen Jing", "Jade Cosmetics"),
)
BLOCKING_SYMPTOMS = (
    "cannot_load_data",
    "cannot_access",
    "software_crashes",
    "cannot_send_tests",
    "campaign_wont_send",
    "template_design_issue",
)
ENHANCEMENTS = (
    "Please add a dark mode to the editor",
    "Schedule campaigns by the recipient's time zone",
    "Export reports to Google Sheets",
)
ADVICE = (
    "What is the best time to send a newsletter?",
    "How should we segment lapsed customers?",
    "How do we warm up a new sending domain?",
)
HANDOVERS = ("Needs the import logs", "Looks like a server-side fault", "Cannot reproduce on the help desk")
THIRD_LINE_QUESTIONS = ("Is this a known fault in the importer?", "Is the sending queue healthy?")
PASS_REASONS = ("Needs a fix on the server", "Needs a database repair")
RESOLUTIONS = (
    "Walked the customer through the settings",
    "Re-sent the invitation; the user can sign in",
    "Fixed the import file's encoding and reloaded it",
    "Cleared the stuck queue; the campaign went out",
    "Patched the template and re-sent the tests",
)
OVERRIDES = (("High", "The customer's launch depends on it"), ("Medium", "A campaign is planned this week"))
DELAY_NOTES = {
    "information_awaited": "Asked the customer for the CSV",
    "customer_absent": "Customer on leave",
    "access_refused": "Waiting for VPN access",
}
RESUME_MESSAGES = {
    "information_awaited": "information_received",
    "customer_absent": "customer_back",
    "access_refused": "access_granted",
}
CONCERNS = ("Nobody called me back", "The fix took far too long", "I was passed around between teams")
RATINGS = {5: 0.35, 4: 0.35, 3: 0.15, 2: 0.1, 1: 0.05}


def _weighted(rng: Random, shares: dict):
    return rng.choices(list(shares), weights=list(shares.values()))[0]


# --- one call's story ----------------------------------------------------------------------------------


@dataclass
class Story:
    """A call as the simulation plays it: drawn when it arrives, followed as it goes."""

    number: int
    rng: Random
    arrives: datetime
    details: CallDetails
    override: tuple[str, str] | None  # (priority, reason) when triage overrides the suggestion
    path: str  # first_line | second_line | ask_third_line | pass_third_line
    delay: str | None  # the reason the call goes Delayed, if it does
    feedback: bool
    escalate_after: timedelta | None
    training: str | None  # a training need, if one is recorded
    needs_more_information: bool  # if escalated: the investigation asks for more first
    reference: str = ""
    advised: bool = False  # third line has answered second line's question
    gathered: bool = False  # the escalation's extra information was gathered
    concern: str = ""
    delayed_until: datetime | None = None
    feedback_planned: bool = False


def draw_story(seed: int, number: int, arrives: datetime, closed: bool, behaviour: Behaviour) -> Story:
    rng = Random(f"{seed}/{number}")  # noqa: S311  (seeded sample data: the same seed, the same demo)
    details = _draw_call(rng, arrives, closed, behaviour)
    problem = details.request_kind == "problem"
    return Story(
        number,
        rng,
        arrives,
        details,
        override=rng.choice(OVERRIDES) if problem and rng.random() < behaviour.override else None,
        path=_weighted(rng, behaviour.paths),
        delay=_delay_reason(rng, details) if rng.random() < behaviour.delayed else None,
        feedback=rng.random() < behaviour.feedback,
        escalate_after=behaviour.escalation_after.draw(rng) if rng.random() < behaviour.escalation else None,
        training=rng.choice(("more_training", "new_user")) if rng.random() < behaviour.training else None,
        needs_more_information=rng.random() < behaviour.more_information,
    )


def _draw_call(rng: Random, arrives: datetime, closed: bool, behaviour: Behaviour) -> CallDetails:
    name, account = rng.choice(CONTACTS)
    domain = "".join(ch for ch in account.lower() if ch.isalnum())
    kind = _weighted(rng, behaviour.request_kinds)
    symptom = rng.choice(BLOCKING_SYMPTOMS) if rng.random() < behaviour.blocking_symptom else "other"
    return CallDetails(
        contact_name=name,
        contact_email=f"{name.split()[0].lower()}@{domain}.example",
        account=account,
        summary=_summary(rng, kind, symptom),
        channel="email" if closed or rng.random() < behaviour.email else "phone",
        licence_type="on_premise" if rng.random() < behaviour.on_premise else "saas",
        request_kind=kind,
        symptom=symptom if kind == "problem" else "other",
        campaign_at=_campaign(rng, arrives, behaviour),
        preparing_campaign=rng.random() < behaviour.preparing_campaign,
    )


def _summary(rng: Random, kind: str, symptom: str) -> str:
    if kind == "enhancement":
        return rng.choice(ENHANCEMENTS)
    if kind == "advice":
        return rng.choice(ADVICE)
    return SYMPTOMS[symptom] if symptom != "other" else rng.choice(("Reports look wrong", "A list will not update"))


def _campaign(rng: Random, arrives: datetime, behaviour: Behaviour) -> datetime | None:
    hours = {"within_24h": (2, 24), "within_3_days": (25, 72), "later": (96, 336), "none": None}
    span = hours[_weighted(rng, behaviour.campaigns)]
    return arrives + timedelta(minutes=round(rng.uniform(*span) * 60)) if span else None


def _delay_reason(rng: Random, details: CallDetails) -> str:
    if details.licence_type == "on_premise" and rng.random() < 0.4:
        return "access_refused"  # C21: only an on-premise call waits for access
    return rng.choice(("information_awaited", "customer_absent"))


# --- what people put in the forms, by task title -------------------------------------------------------


def _confirm_priority(story: Story) -> dict:
    if story.override is None:
        return {}  # take the suggestion
    priority, reason = story.override
    return {"priority": priority, "override_reason": reason}


def _first_level_response(story: Story) -> dict:
    answer = {
        "response_method": "email" if story.details.channel == "email" else "phone",
        "response": "Called back and looked into it together",
    }
    if story.path == "first_line" or story.details.request_kind != "problem":
        return {**answer, "next_step": "resolved", "resolution": _resolution(story)}
    return {**answer, "next_step": "second_line", "handover_reason": story.rng.choice(HANDOVERS)}


def _second_line(story: Story) -> dict:
    if story.path == "ask_third_line" and not story.advised:
        return {"next_step": "ask_third_line", "handover_reason": story.rng.choice(THIRD_LINE_QUESTIONS)}
    if story.path == "pass_third_line":
        return {"next_step": "pass_third_line", "handover_reason": story.rng.choice(PASS_REASONS)}
    return {"next_step": "resolved", "resolution": story.rng.choice(RESOLUTIONS)}


def _resolution(story: Story) -> str:
    if story.details.request_kind == "enhancement":
        return "Passed to the development team"
    if story.details.request_kind == "advice":
        return "Passed to the account manager"
    return story.rng.choice(RESOLUTIONS)


def _investigate(story: Story) -> dict:
    more = story.needs_more_information and not story.gathered
    return {
        "findings": "The call waited in a queue" if more else "A rota gap left the call unanswered",
        "information": "more_needed" if more else "complete",
    }


DECISIONS: dict[str, Callable[[Story], dict]] = {
    "Confirm priority": _confirm_priority,
    "First level response": _first_level_response,
    "Resolve call (second line)": _second_line,
    "Advise second line": lambda story: {"advice": "Known fault: apply the documented workaround"},
    "Resolve call (third line)": lambda story: {"resolution": "Patched on the server and verified"},
    "Consider enhancement request": lambda story: {"decision": story.rng.choice(("planned", "backlog", "declined"))},
    "Contact the customer with advice": lambda story: {"advice": "Shared our guide and two examples"},
    "Arrange training": lambda story: {"arrangement": "Booked on the next online course"},
    "Bring the concern to the Customer Services Manager": lambda story: {"concern": story.concern or "Unhappy"},
    "Investigate the concern": _investigate,
    "Gather more information": lambda story: {"information_found": "The call log and the rota for that day"},
    "Respond to the customer": lambda story: {"response": "We are sorry; we have added cover and followed up"},
}


def plausible_value(form_field: FormField, rng: Random):
    """A value for a field of a task the simulation does not know (a changed diagram)."""
    if form_field.type == "enum":
        return rng.choice([value for value, _ in form_field.options])
    if form_field.type == "long":
        return int(form_field.constraints.get("min", 1))
    if form_field.type == "boolean":
        return False
    if form_field.type == "date":
        return local(clock.now()).date().isoformat()
    return f"Simulated {form_field.label.lower()}"[: int(form_field.constraints.get("maxlength", 200))]


# --- the summary ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attainment:
    """SLA clocks of one metric: met (stopped in time), missed (breached), pending (still counting)."""

    met: int = 0
    missed: int = 0
    pending: int = 0
    goal: float | None = None

    @property
    def decided(self) -> int:
        return self.met + self.missed

    @property
    def share(self) -> float | None:
        return self.met / self.decided if self.decided else None

    @property
    def meets_goal(self) -> bool | None:
        if self.share is None or self.goal is None:
            return None
        return self.share >= self.goal

    def counted(self, view: queries.ClockView) -> Attainment:
        outcome = "missed" if view.breached else ("met" if view.state == "stopped" else "pending")
        return replace(self, **{outcome: getattr(self, outcome) + 1})

    def __add__(self, other: Attainment) -> Attainment:
        return Attainment(self.met + other.met, self.missed + other.missed, self.pending + other.pending, self.goal)


NOT_TRIAGED = "not triaged"


@dataclass(frozen=True)
class PriorityFigures:
    priority: str  # as triaged (a High call re-graded while Delayed stays under High)
    calls: int
    first_response: Attainment
    resolution: Attainment
    breaches: int


@dataclass(frozen=True)
class SimulationSummary:
    seed: int
    start: datetime
    end: datetime
    references: tuple[str, ...]  # the calls logged, in order
    diagram_versions: tuple[int, ...]
    priorities: tuple[PriorityFigures, ...]
    first_response: Attainment
    resolution: Attainment
    breaches: int  # SLA clocks breached, both metrics
    escalations: int
    training_requests: int
    delayed: int  # Delayed periods
    feedback: int
    still_open: int  # calls still being worked on (open or Delayed) at the end
    refused: tuple[str, ...] = ()  # actions the engine refused (a diagram the simulation does not know)

    @property
    def tickets(self) -> int:
        return len(self.references)


def summarise(
    desk: Desk, references: list[str], *, seed: int, start: datetime, end: datetime, refused: tuple[str, ...] = ()
) -> SimulationSummary:
    """The figures of the calls ``references``, read through the queries at the clock's now."""
    views = [queries.ticket_view(desk, reference) for reference in references]
    goals = desk.sla_policy.goals
    rows: dict[str, PriorityFigures] = {}
    for view in views:
        priority = _triaged(view)
        rows[priority] = _add_call(rows.get(priority), priority, view, goals)
    kinds = Counter(event.kind for view in views for event in view.history)
    priorities = tuple(sorted(rows.values(), key=_priority_order))
    return SimulationSummary(
        seed=seed,
        start=start,
        end=end,
        references=tuple(references),
        diagram_versions=tuple(sorted({view.diagram_version for view in views})),
        priorities=priorities,
        first_response=sum((row.first_response for row in priorities), Attainment(goal=goals[FIRST_RESPONSE])),
        resolution=sum((row.resolution for row in priorities), Attainment(goal=goals[RESOLUTION])),
        breaches=sum(row.breaches for row in priorities),
        escalations=kinds["escalation_started"],
        training_requests=kinds["training_requested"],
        delayed=kinds["call_delayed"],
        feedback=kinds["feedback_received"],
        still_open=sum(view.status in ("open", "delayed") for view in views),
        refused=refused,
    )


def _triaged(view: queries.TicketView) -> str:
    chosen = [event.payload["priority"] for event in view.history if event.kind == "priority_set"]
    return chosen[-1] if chosen else NOT_TRIAGED


def _add_call(row: PriorityFigures | None, priority: str, view: queries.TicketView, goals) -> PriorityFigures:
    row = row or PriorityFigures(
        priority, 0, Attainment(goal=goals[FIRST_RESPONSE]), Attainment(goal=goals[RESOLUTION]), 0
    )
    first, resolution = row.first_response, row.resolution
    for sla in view.clocks:
        if sla.metric == FIRST_RESPONSE:
            first = first.counted(sla)
        elif sla.metric == RESOLUTION:
            resolution = resolution.counted(sla)
    return PriorityFigures(
        priority, row.calls + 1, first, resolution, row.breaches + sum(sla.breached for sla in view.clocks)
    )


def _priority_order(row: PriorityFigures):
    known = row.priority in PRIORITIES
    return (PRIORITIES.index(row.priority) if known else len(PRIORITIES), row.priority)


# --- the run -------------------------------------------------------------------------------------------


def simulate(
    desk: Desk,
    *,
    tickets: int,
    days: int,
    seed: int,
    start: datetime | None = None,
    behaviour: Behaviour | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Log ``tickets`` calls over ``days`` days from ``start`` (default: ``days`` days before the
    clock's now) and play them to the end of the period; returns the summary at that end."""
    if tickets < 0 or days <= 0:
        raise ValueError(f"need tickets >= 0 and days > 0, got {tickets} tickets over {days} days")
    start = (start or clock.now() - timedelta(days=days)).astimezone(UTC).replace(microsecond=0)
    end = start + timedelta(days=days)
    behaviour = behaviour or Behaviour()
    calls = arrivals(
        Random(seed),  # noqa: S311  (seeded sample data)
        tickets,
        start,
        end,
        desk.calendar,
        behaviour,
    )
    stories = [draw_story(seed, number, moment, closed, behaviour) for number, (moment, closed) in enumerate(calls)]
    with clock.at(start):  # this thread's time only: a worker or web thread beside it keeps its own
        run = _Run(desk, behaviour, end, progress)
        run.play(start, stories)
        return summarise(
            desk,
            [s.reference for s in stories if s.reference],
            seed=seed,
            start=start,
            end=end,
            refused=tuple(run.refused),
        )


def play(
    desk: Desk,
    behaviour: Behaviour,
    end: datetime,
    stories: list[Story],
    *,
    adopted: Sequence[tuple[str, Story]] = (),
) -> list[str]:
    """Play ``stories`` (new calls) and the ``adopted`` calls already in the store, by reference, from the
    clock's now to ``end``, under ``clock.at`` (the run moves this thread's clock only); what the desk refused.
    An adopted story with ``delayed_until`` set is Delayed since then and resumes after a drawn period."""
    run = _Run(desk, behaviour, end, None)
    start = clock.now()
    for reference, story in adopted:
        run.adopt(reference, story)
    run.play(start, stories)
    return run.refused


def arrivals(
    rng: Random, count: int, start: datetime, end: datetime, calendar: WorkingCalendar, behaviour: Behaviour
) -> list[tuple[datetime, bool]]:
    """When the calls come, in order, each with whether the line was closed then: most of them
    spread evenly over the working time between ``start`` and ``end``, the others out of hours."""
    open_time = calendar.between(start, end)
    moments = []
    for _ in range(count):
        if open_time > timedelta(0) and rng.random() >= behaviour.out_of_hours:
            moment = calendar.add(start, open_time * rng.random())
        else:
            moment = _closed_moment(rng, start, end, calendar)
        moment = moment.astimezone(UTC).replace(microsecond=0)
        moments.append((moment, not calendar.is_open(moment)))
    return sorted(moments)


def _closed_moment(rng: Random, start: datetime, end: datetime, calendar: WorkingCalendar) -> datetime:
    moment = start
    for _ in range(50):  # the line is closed most of the week: this ends at once
        moment = start + (end - start) * rng.random()
        if not calendar.is_open(moment):
            break
    return moment


class _Run:
    """The event queue and the simulated people acting on it."""

    def __init__(self, desk: Desk, behaviour: Behaviour, end: datetime, progress: Callable[[int, int], None] | None):
        self.desk, self.behaviour, self.end, self.progress = desk, behaviour, end, progress
        self.calendar = desk.calendar
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.stories: dict[str, Story] = {}  # by reference: calls and their escalations and training
        self.seen_tasks: set[str] = set()
        self.refused: list[str] = []
        self.logged = self.total = 0

    def at(self, moment: datetime, action: Callable, *args) -> None:
        moment = max(moment, clock.now()).astimezone(UTC)
        then: Callable[[], None] = functools.partial(action, *args)
        heapq.heappush(self.queue, (moment, next(self.order), then))

    def after(self, delay: Delay, story: Story, action: Callable, *args) -> None:
        """``action`` after a working-time delay drawn from ``story``'s randomness."""
        self.at(self.calendar.add(clock.now(), delay.draw(story.rng)), action, *args)

    def adopt(self, reference: str, story: Story) -> None:
        """Play on a call already in the store (the forecast's scratch store holds the open calls as they
        stand): its open tasks are picked up as if they had waited already; a Delayed call resumes after a
        draw of the Delayed period longer than it has been Delayed (``story.delayed_until`` set by the caller
        to when it went Delayed). Call before ``play``, with the clock at the start."""
        story.reference = reference
        self.stories[reference] = story
        if story.delay is not None and story.delayed_until is not None:
            waited = self.calendar.between(story.delayed_until, clock.now())
            story.delayed_until = self.calendar.add(
                story.delayed_until, draw_beyond(self.behaviour.delayed_for, story.rng, waited)
            )
            self.at(story.delayed_until, self._resume, story)

    def play(self, start: datetime, stories: list[Story]) -> None:
        """Play ``stories`` from ``start`` to the end, under ``clock.at`` (the run moves this thread's clock)."""
        clock.move_here(start)
        self.total = len(stories)
        self._notice_new_tasks()  # the adopted calls' open tasks
        for story in stories:
            self.at(story.arrives, self._log_call, story)
        while self.queue and self.queue[0][0] <= self.end:
            moment, _, action = heapq.heappop(self.queue)
            self._fire_timers_until(moment)
            action()
            self._notice_new_tasks()
        self._fire_timers_until(self.end)

    # -- the clock and the timers

    def _fire_timers_until(self, moment: datetime) -> None:
        """Fire each timer due before ``moment`` just after its own due moment (never moving the
        clock back: a job that was due earlier fires now), then stop at ``moment``."""
        while (due := self._next_timer_due()) is not None and due < moment:
            clock.move_here(max(clock.now(), min(due + TIMER_LAG, moment)))
            if not self._fire_due_timers():
                break  # a job that cannot fire yet (it is kept, and retried, by the worker)
            self._notice_new_tasks()
        clock.move_here(moment)
        self._fire_due_timers()

    def _fire_due_timers(self) -> int:
        """The timer half of ``Worker.run_once``: the other half delivers the outbox over SMTP, and
        simulated customers get no mail (it stays queued in the outbox)."""
        fired = 0
        while ran := commands.fire_due_timers(self.desk):
            fired += ran
        return fired

    def _next_timer_due(self) -> datetime | None:
        return jobs.next_due(self.desk)  # as the worker asks it: incidents wait for an admin

    # -- tasks

    def _notice_new_tasks(self) -> None:
        """Schedule the pick-up of every task the diagrams opened on the simulation's tickets."""
        new = [
            row for row in self._open_tasks() if row.reference in self.stories and row.task_id not in self.seen_tasks
        ]
        for row in sorted(new, key=lambda row: (row.created_at, row.reference, row.title)):
            self.seen_tasks.add(row.task_id)
            story = self.stories[row.reference]
            delay = self.behaviour.pick_up_delay(row.title, row.priority)
            waited = self.calendar.between(row.created_at, clock.now())
            self.at(self.calendar.add(row.created_at, draw_beyond(delay, story.rng, waited)), self._pick_up, row)

    def _open_tasks(self) -> list[queries.TaskRow]:
        rows: list[queries.TaskRow] = []
        while page := queries.open_tasks(self.desk, limit=OPEN_TASKS_PAGE, offset=len(rows)):
            rows += page
            if len(page) < OPEN_TASKS_PAGE:
                break
        return rows

    def _pick_up(self, row: queries.TaskRow) -> None:
        story = self.stories[row.reference]
        if row.reference == story.reference and story.delayed_until and clock.now() < story.delayed_until:
            self.at(
                self.calendar.add(story.delayed_until, self.behaviour.back_to_work.draw(story.rng)), self._pick_up, row
            )
            return
        data = self._form_data(row, story)
        try:
            commands.complete_task(self.desk, commands.CompleteTask(row.task_id, data), self._advisor(row.role, story))
        except (ConflictError, NotFound):
            return  # no longer open: the call ended meanwhile
        except InvalidInput as exc:
            self._refuse(f"{row.reference} {row.title!r}: {exc} {exc.fields}")
            return
        self._after_task(row, story, data)

    def _form_data(self, row: queries.TaskRow, story: Story) -> dict:
        decide = DECISIONS.get(row.title)
        if decide is not None:
            return decide(story)
        fields = queries.task_form(self.desk, row.task_id).fields
        return {f.id: plausible_value(f, story.rng) for f in fields if f.required}

    def _after_task(self, row: queries.TaskRow, story: Story, data: dict) -> None:
        if row.title == "Advise second line":
            story.advised = True
        elif row.title == "Gather more information":
            story.gathered = True
        elif row.title == "First level response":
            self._after_first_response(story, data)
        if self._feedback_now_due(row, story):
            story.feedback_planned = True
            self.after(self.behaviour.feedback_after, story, self._send_feedback, story)

    def _after_first_response(self, story: Story, data: dict) -> None:
        if story.training:
            self.after(self.behaviour.training_after, story, self._record_training, story)
        if story.delay and data.get("next_step") == "second_line":
            self.after(self.behaviour.delay_starts, story, self._delay, story)

    def _feedback_now_due(self, row: queries.TaskRow, story: Story) -> bool:
        """Whether this customer, who will comment, now has a resolved call to comment on (C27)."""
        if not story.feedback or story.feedback_planned or row.reference != story.reference:
            return False
        return queries.ticket_view(self.desk, story.reference).status == "resolved"

    def _advisor(self, role: str, story: Story) -> str:
        return story.rng.choice(ADVISORS.get(role, ("desk",)))

    def _refuse(self, what: str) -> None:
        log.warning("simulation: the desk refused %s", what)
        self.refused.append(what)

    # -- calls and what customers do

    def _log_call(self, story: Story) -> None:
        actor = "mail" if story.details.channel == "email" else self._advisor("first_line", story)
        story.reference = commands.log_call(self.desk, story.details, actor)
        self.stories[story.reference] = story
        if story.escalate_after is not None:
            self.at(self.calendar.add(clock.now(), story.escalate_after), self._escalate, story)
        self.logged += 1
        if self.progress:
            self.progress(self.logged, self.total)

    def _deliver(self, story: Story, message: str, payload: dict, actor: str) -> bool:
        try:
            commands.deliver_message(self.desk, commands.DeliverMessage(story.reference, message, payload), actor)
        except NotAllowed:
            return False  # the call no longer waits for it (resolved meanwhile, say)
        return True

    def _delay(self, story: Story) -> None:
        assert story.delay is not None  # noqa: S101  (only a story that goes Delayed is scheduled here)
        payload = {"reason": story.delay, "note": DELAY_NOTES[story.delay]}
        if self._deliver(story, "call_delayed", payload, self._advisor("second_line", story)):
            story.delayed_until = self.calendar.add(clock.now(), self.behaviour.delayed_for.draw(story.rng))
            self.at(story.delayed_until, self._resume, story)

    def _resume(self, story: Story) -> None:
        assert story.delay is not None  # noqa: S101  (only a delayed story resumes)
        story.delayed_until = None
        self._deliver(story, RESUME_MESSAGES[story.delay], {"note": "Work can go on"}, "customer")

    def _send_feedback(self, story: Story) -> None:
        rating = _weighted(story.rng, RATINGS)
        comment = "Quick and helpful, thanks" if rating >= 4 else "It took too long"
        self._deliver(story, "feedback", {"rating": rating, "comment": comment}, "portal")

    def _escalate(self, story: Story) -> None:
        story.concern = story.rng.choice(CONCERNS)
        reference = commands.start_escalation(
            self.desk,
            commands.StartEscalation(story.concern, call_reference=story.reference),
            self._advisor("account_manager", story),
        )
        self.stories[reference] = story

    def _record_training(self, story: Story) -> None:
        reference = commands.record_training_need(
            self.desk,
            commands.RecordTrainingNeed(story.reference, story.training, "Noticed while answering the call"),
            self._advisor("first_line", story),
        )
        self.stories[reference] = story
