"""Foresight (issue 22, C31): this period's SLA attainment forecast, the early warning, and what would fix it.

``make_forecast`` reads the store as it stands (``forecast_history``), learns its people from the history
(``forecast_learning``), plays the rest of the period ``runs`` times through the real diagrams on scratch
stores (``forecast_diagrams``: the open calls carried as they stood, new calls drawn from the history),
and gives per line (first response; resolution per priority and overall) the median attainment, the 80 %
interval, the chance of missing the goal and the calls likely to breach. For a line whose median misses
its goal it names the smallest lever that brings the median back: the learned model (``forecast_model``)
picks the step, the diagrams confirm it (``_levers``).

It stores the forecast with its inputs (``sla_forecast``) and, when the chance of missing a goal passes
the policy's ``forecast.warn_above`` (default 0.5), mails the customer services managers, once per period
and goal (``sla_forecast_warning``, unique on them): a mail rather than a task, because a task needs a
process to belong to and someone to complete it, while this is news with figures to read; the mail goes
through the outbox like every other, and the warning row records who was told and on which forecast.

The worker makes the month's forecast once a day (``make_daily_if_due``); the CLI (``supportdesk
forecast``) and the API (``GET /api/v1/reports/forecast``) make one on demand.
"""

from __future__ import annotations

import html
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.oversight import forecast_diagrams, forecast_learning
from supportdesk.engine.oversight import forecast_model as model
from supportdesk.engine.oversight.forecast_history import ALL, History, read_history
from supportdesk.engine.oversight.reports import MONTH, PERIODS, london_midnight, periods_between
from supportdesk.engine.store.models import OutboxMail, SlaForecast, SlaForecastWarning, User
from supportdesk.engine.working_time.clock import clock, local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE

log = logging.getLogger(__name__)

DEFAULT_RUNS = 40
MAX_RUNS = 1000
DEFAULT_SECONDS = 600.0  # the runs stop when this is spent (never below forecast_diagrams.MIN_RUNS)
ON_DEMAND_SECONDS = 20.0  # a forecast made within a web request
RUNS_PER_PROCESS = 10
LEVER_RUNS = 100  # the model's runs per lever step, to find the step worth playing on the diagrams
LEVER_STEPS_PLAYED = 3  # steps of a ladder played on the diagrams, from the model's choice up
LEVER_DIAGRAM_RUNS = 20  # the forecast's first runs, played again with a lever
METHOD = (
    "Monte Carlo on the real diagrams: the open calls carried onto scratch stores as they stand, new calls "
    "and the people's working time drawn from the history (bootstrap), played by the simulator"
)
MANAGER = "customer_services_manager"
FIRST_LOOK = timedelta(minutes=2)  # after a worker starts: its first timers come first
CHECK_EVERY = timedelta(minutes=15)
WORKER = "worker"


@dataclass(frozen=True)
class LineForecast:
    metric: str
    line: str  # the priority, or All
    goal: float
    median: float | None  # None: no clock of this line is likely to be decided this period
    low: float | None  # the 80 % interval: 1 run in 10 ends below it, 1 in 10 above the high
    high: float | None
    chance_of_miss: float | None
    likely_breaches: float  # median per run, of open calls and calls still to come
    open_breaches: float
    new_breaches: float
    breaches_by_tier: dict[str, float]  # mean per run, of the calls open now, by the tier working them
    met_so_far: int
    breached_so_far: int
    lever: dict | None = None  # the smallest lever that brings the median back to the goal, played on the diagrams

    @property
    def label(self) -> str:
        name = "First response" if self.metric == FIRST_RESPONSE else "Resolution"
        return name if self.line == ALL and self.metric == FIRST_RESPONSE else f"{name} ({self.line})"

    @property
    def misses_goal(self) -> bool:
        return self.median is not None and self.median < self.goal

    @property
    def busiest_tier(self) -> str | None:
        return max(self.breaches_by_tier, key=self.breaches_by_tier.__getitem__) if self.breaches_by_tier else None


@dataclass(frozen=True)
class Forecast:
    made_at: datetime
    period: str
    first_day: date
    last_day: date
    runs: int
    seed: int
    method: str
    threshold: float
    short_history: tuple[str, ...]  # why the history is too short to trust, if it is (the interval is wider)
    lines: tuple[LineForecast, ...]
    id: int | None = None
    made_by: str = ""
    warned: tuple[str, ...] = field(default=())  # labels of the lines warned about by this forecast
    notes: tuple[str, ...] = field(default=())  # what the runs could not do as asked (carried calls, time)

    def line(self, metric: str, line: str) -> LineForecast:
        return next(f for f in self.lines if f.metric == metric and f.line == line)

    def as_data(self) -> dict:
        """Its fields as plain data (moments and dates as they are), each line with its label."""
        found = asdict(self)
        found["short_history"], found["warned"] = list(self.short_history), list(self.warned)
        found["notes"] = list(self.notes)
        for line, shown in zip(found["lines"], self.lines, strict=True):
            line["label"], line["chance_of_miss_above_threshold"] = shown.label, _above(shown, self.threshold)
        return found

    def as_dict(self) -> dict:
        """As JSON writes it (the stored result, the CLI's ``--format json``)."""
        found = self.as_data()
        found["made_at"] = self.made_at.isoformat()
        found["first_day"], found["last_day"] = self.first_day.isoformat(), self.last_day.isoformat()
        return found


@dataclass(frozen=True)
class Inputs:
    """What a forecast read and learned: stored with it, so an auditor sees what was known then."""

    history: History
    learned: forecast_learning.Learned
    carried: tuple[str, ...]  # the open calls carried onto the diagrams
    not_carried: tuple[str, ...]  # those played by the model instead

    def summary(self) -> dict:
        return {
            **self.history.summary(),
            "learned": self.learned.summary(),
            "carried_onto_the_diagrams": list(self.carried),
            "played_by_the_model": list(self.not_carried),
        }


def _above(line: LineForecast, threshold: float) -> bool:
    return line.chance_of_miss is not None and line.chance_of_miss > threshold


# --- making one ----------------------------------------------------------------------------------------


def check_request(period: str | None, runs: int | None) -> tuple[str, int]:
    period = (period or MONTH).strip()
    if period not in PERIODS:
        raise InvalidInput("unknown period", {"period": f"The period is one of: {', '.join(PERIODS)}"})
    runs = DEFAULT_RUNS if runs is None else runs
    if not 1 <= runs <= MAX_RUNS:
        raise InvalidInput("too many or too few runs", {"runs": f"Runs are from 1 to {MAX_RUNS}"})
    return period, runs


def compute(
    desk: Desk,
    *,
    period: str = MONTH,
    runs: int = DEFAULT_RUNS,
    seed: int | None = None,
    as_of: datetime | None = None,
    levers: bool = True,
    seconds: float | None = DEFAULT_SECONDS,
    progress: Callable[[int, int], None] | None = None,
    jobs: int | None = None,
) -> tuple[Forecast, Inputs]:
    """The forecast of the period holding ``as_of`` (default: the clock's now), from the store as it stood
    then; nothing is written. Up to ``runs`` runs on the real diagrams, fewer when ``seconds`` run out, in
    ``jobs`` processes (default: one per CPU, one per ``RUNS_PER_PROCESS`` runs). The seed defaults to the
    London date, so a day's forecasts agree."""
    period, runs = check_request(period, runs)
    as_of = (as_of or clock.now()).astimezone(UTC)
    today = local(as_of).date()
    (shown,) = periods_between(period, today, today)
    start, end = london_midnight(shown.first_day), london_midnight(shown.last_day + timedelta(days=1))
    seed = int(today.strftime("%Y%m%d")) if seed is None else seed
    deadline = time.monotonic() + seconds if seconds else None
    history = read_history(desk, as_of, start)
    learned = forecast_learning.learn(desk, history.window_start, as_of)
    goals = dict(desk.sla_policy.goals)
    wanted = model.lines_of(history, goals, tuple(desk.sla_policy.resolution))
    jobs = default_jobs(runs) if jobs is None else jobs
    with forecast_diagrams.PeriodPlay(desk, history, learned, period_start=start, end=end, jobs=jobs) as play:
        tallies = play.play(runs=runs, seed=seed, deadline=deadline, progress=progress)
        played = model.line_runs(tallies, goals, wanted)
        fixes: dict[tuple[str, str], dict] = {}
        all_levers = True
        if levers:
            fixes, all_levers = _levers(history, play, goals, played, seed, len(tallies), deadline)
        notes = _notes(play, runs, len(tallies), all_levers)
        inputs = Inputs(history, learned, tuple(c.reference for c in play.carried), tuple(play.not_carried))
    forecast = Forecast(
        made_at=as_of,
        period=period,
        first_day=shown.first_day,
        last_day=shown.last_day,
        runs=len(tallies),
        seed=seed,
        method=METHOD,
        threshold=desk.sla_policy.forecast_warning,
        short_history=(*model.is_short(history), *learned.short),
        lines=tuple(_line(played[key], history, fixes.get(key)) for key in wanted),
        notes=notes,
    )
    return forecast, inputs


def default_jobs(runs: int) -> int:
    """Processes for ``runs`` runs: starting one costs about as much as a run or two, so one per ten runs,
    and no more than the CPUs."""
    return max(1, min(os.cpu_count() or 1, runs // RUNS_PER_PROCESS))


def _notes(play: forecast_diagrams.PeriodPlay, asked: int, made: int, all_levers: bool) -> tuple[str, ...]:
    notes = []
    if not all_levers:
        notes.append("not every lever could be played on the diagrams in the time allowed")
    if made < asked:
        notes.append(f"{made} of the {asked} runs asked for were made in the time allowed")
    if play.not_carried:
        notes.append(
            f"{len(play.not_carried)} of {len(play.not_carried) + len(play.carried)} open calls could not be "
            f"carried onto the diagrams (migrated, or an input refused) and were played by the model: "
            + ", ".join(play.not_carried[:10])
        )
    return tuple(notes)


def _line(runs: model.LineRuns, history: History, lever: dict | None) -> LineForecast:
    low, high = runs.interval
    met, breached = _so_far(history, runs.metric, runs.line)
    return LineForecast(
        metric=runs.metric,
        line=runs.line,
        goal=runs.goal,
        median=runs.median,
        low=low,
        high=high,
        chance_of_miss=runs.chance_of_miss,
        likely_breaches=runs.likely_breaches,
        open_breaches=float(_median(runs.open_breaches)),
        new_breaches=float(_median(runs.new_breaches)),
        breaches_by_tier={tier: round(n, 2) for tier, n in sorted(runs.breaches_by_tier.items())},
        met_so_far=met,
        breached_so_far=breached,
        lever=lever,
    )


def _median(values: tuple[int, ...]) -> float:
    ordered = sorted(values)
    return (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2 if ordered else 0.0


def _so_far(history: History, metric: str, line: str) -> tuple[int, int]:
    keys = [k for k in history.decided if k[0] == metric and (line == ALL or k[1] == line)]
    return sum(history.decided[k][0] for k in keys), sum(history.decided[k][1] for k in keys)


# --- what would fix it ---------------------------------------------------------------------------------


def _levers(history, play, goals, played, seed, runs, deadline) -> tuple[dict[tuple[str, str], dict], bool]:
    """Per line whose median misses its goal, the smallest lever that brings it back, played on the diagrams.

    Playing every step of every ladder on the diagrams would cost hundreds of runs; so the learned model
    (``forecast_model.play``, milliseconds a run) climbs each ladder first and names, per missed line, the
    smallest step that brings its median back. That step is then played on the diagrams, on the forecast's
    own first draws (``LEVER_DIAGRAM_RUNS`` at most, each lever once for every line); when the diagrams do
    not bring the median back, the next steps of its ladder are played (``LEVER_STEPS_PLAYED`` at most).
    What is shown is the step the diagrams confirmed, with its median. No lever is played once the
    forecast's time is spent (``deadline``): the second value says whether every lever wanted was played."""
    missed = [key for key, runs_ in played.items() if runs_.median is not None and runs_.median < runs_.goal]
    if not missed:
        return {}, True
    chosen = _model_choice(history, play.span, goals, missed, seed)
    runs = min(runs, LEVER_DIAGRAM_RUNS)
    tried: dict[model.Lever, list[model.Tally]] = {}
    found: dict[tuple[str, str], dict] = {}
    for key, (ladder, rank) in chosen.items():
        for lever in ladder[rank : rank + LEVER_STEPS_PLAYED]:
            if lever not in tried:
                if deadline is not None and time.monotonic() > deadline:
                    return found, False
                tried[lever] = play.play(runs=runs, seed=seed, lever=lever)
            median = model.line_runs(tried[lever], goals, [key])[key].median
            if median is not None and median >= goals[key[0]]:
                found[key] = {**lever.as_dict(), "median": median, "runs": runs, "played_on": "diagrams"}
                break
    return found, True


def _model_choice(history, span, goals, missed, seed) -> dict[tuple[str, str], tuple[tuple[model.Lever, ...], int]]:
    """Per missed line, the ladder and the index of its step that the model finds smallest (by its rank on
    its ladder). Each ladder is climbed from its smallest step, all missed lines at once, on the same draws."""
    best: dict[tuple[str, str], tuple[float, tuple[model.Lever, ...], int]] = {}
    for ladder in model.LADDERS:
        waiting = set(missed)
        for index, lever in enumerate(ladder):
            if not waiting:
                break
            tried = model.play(history, span, goals, sorted(waiting), runs=LEVER_RUNS, seed=seed, lever=lever)
            for key in [k for k in waiting if (tried[k].median or 0.0) >= goals[k[0]]]:
                waiting.discard(key)
                size = (index + 1) / len(ladder)
                if key not in best or size < best[key][0]:
                    best[key] = (size, ladder, index)
    return {key: (ladder, index) for key, (_, ladder, index) in best.items()}


def make_forecast(
    desk: Desk,
    *,
    period: str = MONTH,
    runs: int = DEFAULT_RUNS,
    seed: int | None = None,
    made_by: str = WORKER,
    seconds: float | None = DEFAULT_SECONDS,
    progress: Callable[[int, int], None] | None = None,
) -> Forecast:
    """Make the forecast now, store it with its inputs, and warn the managers of a goal likely missed
    (once per period and goal): all in one transaction."""
    forecast, inputs = compute(desk, period=period, runs=runs, seed=seed, seconds=seconds, progress=progress)
    with desk.db.transaction() as session:
        row = SlaForecast(
            made_at=forecast.made_at,
            made_by=made_by,
            period=forecast.period,
            first_day=forecast.first_day,
            last_day=forecast.last_day,
            runs=forecast.runs,
            seed=forecast.seed,
            method=forecast.method,
            short_history=bool(forecast.short_history),
            inputs=json.dumps(
                {**inputs.summary(), "goals": dict(desk.sla_policy.goals), "warn_above": forecast.threshold},
                sort_keys=True,
            ),
            result="",
        )
        session.add(row)
        session.flush()
        kept = replace(forecast, id=row.id, made_by=made_by)
        kept = replace(kept, warned=tuple(_warn(desk, session, kept, row.id)))
        row.result = json.dumps(kept.as_dict(), sort_keys=True)
    return kept


def make_daily_if_due(desk: Desk) -> Forecast | None:
    """The worker's daily forecast of the month: made when none was made today (London) by a worker."""
    now = clock.now()
    today = local(now).date()
    with desk.db.reading() as session:
        made = session.scalar(
            select(SlaForecast.id).where(
                SlaForecast.made_by == WORKER,
                SlaForecast.period == MONTH,
                SlaForecast.made_at >= london_midnight(today),
            )
        )
    if made is not None:
        return None
    return make_forecast(desk, period=MONTH, made_by=WORKER)


class DailyForecasts:
    """A worker's daily forecast of the month, in a thread of its own beside the timers (``supportdesk worker``
    and ``serve`` start one), so a timer never waits on a Monte Carlo. It looks every ``CHECK_EVERY`` and makes
    the day's forecast when none was made today; its first look waits ``FIRST_LOOK`` after the start."""

    def __init__(self, desk: Desk, *, first_look: timedelta = FIRST_LOOK, every: timedelta = CHECK_EVERY):
        self.desk, self.first_look, self.every = desk, first_look, every
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        wait = self.first_look
        while not self.stopping.wait(wait.total_seconds()):
            try:
                made = make_daily_if_due(self.desk)
                if made is not None:
                    log.info("forecast %s of %s made; warned about: %s", made.id, made.first_day, made.warned or "-")
            except Exception:  # the store may be briefly unreachable: look again later
                log.exception("daily forecast failed")
            wait = self.every

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="supportdesk-forecast", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()


# --- the warning ---------------------------------------------------------------------------------------


def _warn(desk: Desk, session, forecast: Forecast, forecast_id: int) -> list[str]:
    """Mail the managers about each line whose chance of missing its goal passes the threshold, unless they
    were told about that line this period already. Returns the labels warned about now."""
    likely_missed = [line for line in forecast.lines if _above(line, forecast.threshold)]
    if not likely_missed:
        return []
    recipients = _manager_addresses(session)
    if not recipients:
        log.warning("forecast: a goal is likely missed but no customer services manager has an address")
        return []
    warned = []
    for line in likely_missed:
        if _already_warned(session, forecast, line):
            continue
        try:
            with session.begin_nested():  # another worker warned at the same moment: theirs stands
                session.add(_warning_row(forecast, forecast_id, line, recipients))
                session.flush()
                for address in recipients:
                    session.add(_mail(desk, forecast, line, address))
        except IntegrityError:
            continue
        warned.append(line.label)
    return warned


def _already_warned(session, forecast: Forecast, line: LineForecast) -> bool:
    return (
        session.scalar(
            select(SlaForecastWarning.id).where(
                SlaForecastWarning.period == forecast.period,
                SlaForecastWarning.first_day == forecast.first_day,
                SlaForecastWarning.metric == line.metric,
                SlaForecastWarning.line == line.line,
            )
        )
        is not None
    )


def _warning_row(forecast: Forecast, forecast_id: int, line: LineForecast, recipients: list[str]):
    return SlaForecastWarning(
        forecast_id=forecast_id,
        period=forecast.period,
        first_day=forecast.first_day,
        metric=line.metric,
        line=line.line,
        chance_of_miss=line.chance_of_miss or 0.0,
        sent_at=forecast.made_at,
        recipients=", ".join(recipients),
    )


def _manager_addresses(session) -> list[str]:
    users = session.scalars(select(User).where(User.disabled_at.is_(None)).order_by(User.username))
    return [user.email for user in users if MANAGER in (user.roles or []) and user.email]


def warning_text(forecast: Forecast, line: LineForecast) -> tuple[str, str]:
    """(subject, body) of the manager's warning."""
    period = f"{forecast.first_day:%B %Y}" if forecast.period == MONTH else f"the week of {forecast.first_day:%d %b %Y}"
    subject = f"SLA forecast: {line.label} likely to miss its {line.goal:.0%} goal in {period}"
    tier = line.busiest_tier
    body = [
        f"The forecast made {local(forecast.made_at):%a %d %b %Y %H:%M} says {line.label.lower()} attainment for "
        f"{period} will most likely end at {_share(line.median)} (80 % interval {_share(line.low)} to "
        f"{_share(line.high)}), against a goal of {line.goal:.0%}.",
        f"Chance of missing the goal: {_share(line.chance_of_miss)} (the warning is sent above "
        f"{forecast.threshold:.0%}, once per period and goal).",
        "",
        "Drivers:",
        f"- priority: {line.line if line.line != ALL else 'all priorities'}",
        f"- calls likely to breach from now: about {line.likely_breaches:g} "
        f"({line.open_breaches:g} of the calls open now, {line.new_breaches:g} of calls still to come)",
        f"- so far this period: {line.met_so_far} met, {line.breached_so_far} breached",
    ]
    if tier:
        body.append(f"- queue: most of the likely breaches among open calls wait with {tier.replace('_', ' ')}")
    if line.lever:
        body += ["", f"What would bring the median back to the goal: {line.lever['text']}."]
    if forecast.short_history:
        body += ["", "The history is short (" + "; ".join(forecast.short_history) + "): the interval is wide."]
    body += ["", f"Forecast {forecast.id} ({forecast.runs} runs, seed {forecast.seed}) is kept with its inputs."]
    return subject, "\n".join(body) + "\n"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _mail(desk: Desk, forecast: Forecast, line: LineForecast, address: str) -> OutboxMail:
    subject, text = warning_text(forecast, line)
    now = forecast.made_at
    return OutboxMail(
        ticket_id=None,
        template="sla_forecast_warning",
        to_address=address,
        subject=subject[:300],
        body_text=text,
        body_html="<pre>" + html.escape(text) + "</pre>\n",
        message_id=f"<{uuid.uuid4()}@{desk.settings.mail_domain}>",
        status="queued",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


# --- reading the stored ones ---------------------------------------------------------------------------


def stored(desk: Desk, period: str, first_day: date) -> list[Forecast]:
    """The period's stored forecasts, oldest first."""
    with desk.db.reading() as session:
        rows = session.scalars(
            select(SlaForecast)
            .where(SlaForecast.period == period, SlaForecast.first_day == first_day)
            .order_by(SlaForecast.made_at, SlaForecast.id)
        ).all()
    return [from_json(row.result) for row in rows if row.result]


def latest(desk: Desk, period: str = MONTH) -> Forecast | None:
    """The newest stored forecast of the period under way."""
    today = local(clock.now()).date()
    (shown,) = periods_between(period, today, today)
    found = stored(desk, period, shown.first_day)
    return found[-1] if found else None


def made_today(desk: Desk, period: str) -> Forecast | None:
    """The newest forecast of the period under way made today (London), if any."""
    newest = latest(desk, period)
    today = local(clock.now()).date()
    return newest if newest is not None and local(newest.made_at).date() == today else None


def day_by_day(forecasts: list[Forecast]) -> list[Forecast]:
    """The last forecast of each London day: how the forecast changed through the period."""
    by_day: dict[date, Forecast] = {}
    for forecast in forecasts:
        by_day[local(forecast.made_at).date()] = forecast
    return [by_day[day] for day in sorted(by_day)]


def from_json(text: str) -> Forecast:
    data = json.loads(text)
    fields_of_line = LineForecast.__dataclass_fields__
    lines = tuple(LineForecast(**{k: v for k, v in line.items() if k in fields_of_line}) for line in data["lines"])
    return Forecast(
        made_at=datetime.fromisoformat(data["made_at"]),
        period=data["period"],
        first_day=date.fromisoformat(data["first_day"]),
        last_day=date.fromisoformat(data["last_day"]),
        runs=data["runs"],
        seed=data["seed"],
        method=data["method"],
        threshold=data["threshold"],
        short_history=tuple(data["short_history"]),
        lines=lines,
        id=data.get("id"),
        made_by=data.get("made_by", ""),
        warned=tuple(data.get("warned", ())),
        notes=tuple(data.get("notes", ())),
    )
