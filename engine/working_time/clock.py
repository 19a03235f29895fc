"""The one clock that all of supportdesk reads, SpiffWorkflow's timers included.

Nothing in the project calls ``datetime.now()``: it asks ``clock.now()``.
Tests and audit replays set the clock to any moment, so the process runs
across simulated days in milliseconds and a replay sees the moments that
were recorded.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

DISPLAY_ZONE = ZoneInfo("Europe/London")

_override: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("clock_override", default=None)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the clock needs a timezone-aware moment, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class Clock:
    """Wall-clock time by default; a fixed moment once a test sets it.

    ``at(moment)`` overrides the time for the current thread or task only,
    which is what a replay running beside live traffic needs.
    """

    def __init__(self) -> None:
        self._fixed: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        override = _override.get()
        if override is not None:
            return override
        with self._lock:
            if self._fixed is not None:
                return self._fixed
        return datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        """Freeze the clock at ``moment`` (for tests and simulations)."""
        with self._lock:
            self._fixed = _require_aware(moment)

    def advance(self, delta: timedelta) -> datetime:
        """Move a frozen clock forward; returns the new moment."""
        with self._lock:
            if self._fixed is None:
                raise RuntimeError("advance() needs a frozen clock: call set() first")
            self._fixed += delta
            return self._fixed

    def use_system_time(self) -> None:
        with self._lock:
            self._fixed = None

    @property
    def is_frozen(self) -> bool:
        return self._fixed is not None

    @contextlib.contextmanager
    def at(self, moment: datetime):
        """Run a block as if it were ``moment``, in this thread only."""
        token = _override.set(_require_aware(moment))
        try:
            yield
        finally:
            _override.reset(token)

    def move_here(self, moment: datetime) -> None:
        """Move the moment of this thread's ``at`` block: a simulation drives its own time this way, and the
        clock of every other thread (a worker's timers, a web request) is left alone."""
        if _override.get() is None:
            raise RuntimeError("clock.move_here is for a block under clock.at")
        _override.set(_require_aware(moment))


clock = Clock()


def local(moment: datetime) -> datetime:
    """A stored UTC moment as people see it: Europe/London."""
    return _require_aware(moment).astimezone(DISPLAY_ZONE)


# How people read a moment, in the en-GB form, London time: "29 Nov 2026, 14:05" (pages, messages, the CLI's lists).
SHOWN_FORMAT = "%d %b %Y, %H:%M"


def shown(moment: datetime) -> str:
    """A stored UTC moment as people read it: London time, en-GB."""
    return local(moment).strftime(SHOWN_FORMAT)


def as_utc(moment: datetime) -> datetime:
    """Moments read back from SQLite come without a zone; they were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _ClockDatetime(datetime):
    """SpiffWorkflow compares timers with ``datetime.now(timezone.utc)``,
    hard-coded in its timer module; this subclass answers from our clock."""

    @classmethod
    def now(cls, tz=None):
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


# SpiffWorkflow 3.2.0 has no clock hook (see README, "Engine notes"): rebinding
# the name its timer module uses is the narrowest way in.
_spiff_timer.datetime = _ClockDatetime
