"""One clock for all of the desk, settable by tests, per-thread overridable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from supportdesk.engine.working_time.clock import Clock, local


def test_a_set_clock_stays_put_and_advances_on_demand():
    clock = Clock()
    moment = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    clock.set(moment)
    assert clock.now() == moment
    assert clock.advance(timedelta(hours=1)) == moment + timedelta(hours=1)


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock().set(datetime(2026, 1, 1, 9, 0))  # noqa: DTZ001  (naive on purpose)


def test_an_override_applies_to_its_own_thread_only():
    clock = Clock()
    clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    seen = {}
    with clock.at(datetime(2030, 1, 1, tzinfo=UTC)):
        other = threading.Thread(target=lambda: seen.setdefault("other", clock.now()))
        other.start()
        other.join()
        assert clock.now().year == 2030
    assert seen["other"].year == 2026
    assert clock.now().year == 2026


def test_stored_utc_is_shown_in_london_time_across_daylight_saving():
    assert local(datetime(2026, 7, 1, 9, 0, tzinfo=UTC)).strftime("%H:%M %Z") == "10:00 BST"
    assert local(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)).strftime("%H:%M %Z") == "09:00 GMT"
