"""The SLA policy: the target of each clock per priority, and the goals (C06-C08, C12, C31).

One file (``workflows/sla_policy.toml``) that the diagrams' handlers and the
reports read; ``SlaPolicy.default()`` is the charter's, in code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
METRICS = (FIRST_RESPONSE, RESOLUTION)
PRIORITIES = ("High", "Medium", "Low", "Enhancement", "Advice")

_TARGET = re.compile(r"^\s*(?:(\d+)\s*d|(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?)\s*$")


class PolicyError(ValueError):
    """An SLA policy that makes no sense; the message names the file and the key."""


@dataclass(frozen=True)
class Target:
    """Working hours/minutes, or whole working days (never both)."""

    working: timedelta = timedelta(0)
    days: int = 0

    @classmethod
    def parse(cls, text: str, key: str = "target") -> Target:
        match = _TARGET.match(str(text))
        if not match or not any(match.groups()):
            raise PolicyError(f"{key}: {text!r} is not a target like '8h', '90m', '1h30m' or '10d'")
        days, hours, minutes = (int(g) if g else 0 for g in match.groups())
        target = cls(working=timedelta(hours=hours, minutes=minutes), days=days)
        if target.working <= timedelta(0) and target.days <= 0:
            raise PolicyError(f"{key}: a target must be more than zero")
        return target

    def __str__(self) -> str:
        if self.days:
            return f"{self.days} working day{'s' if self.days != 1 else ''}"
        hours, rest = divmod(int(self.working.total_seconds()), 3600)
        return f"{hours}h{rest // 60:02d}m working" if rest else f"{hours} working hour{'s' if hours != 1 else ''}"


@dataclass(frozen=True)
class SlaPolicy:
    first_response: Target = Target(timedelta(hours=1))
    resolution: dict[str, Target] = field(
        default_factory=lambda: {
            "High": Target(timedelta(hours=8)),
            "Medium": Target(timedelta(hours=16)),
            "Low": Target(days=10),
        }
    )
    goals: dict[str, float] = field(default_factory=lambda: {FIRST_RESPONSE: 0.85, RESOLUTION: 0.95})
    # C14: a running clock is "at risk" once this share or less of its target's working time is left.
    at_risk_share: float = 0.25
    # C31 foresight (issue 22): the manager is warned once the chance of missing a goal this period passes this.
    forecast_warning: float = 0.5

    @classmethod
    def default(cls) -> SlaPolicy:
        return cls()

    def target(self, metric: str, priority: str | None) -> Target | None:
        """The target of ``metric`` for ``priority``; None when that clock does not run (C09, C10)."""
        if metric == FIRST_RESPONSE:
            return self.first_response
        if metric == RESOLUTION:
            return self.resolution.get(priority or "")
        raise ValueError(f"unknown SLA metric {metric!r}")

    @classmethod
    def from_toml(cls, path: Path) -> SlaPolicy:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_config(data)
        except (tomllib.TOMLDecodeError, PolicyError, OSError) as exc:
            raise PolicyError(f"{path}: {exc}") from exc

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> SlaPolicy:
        first = data.get("first_response") or {}
        resolution = data.get("resolution") or {}
        targets = resolution.get("targets") or {}
        unknown = sorted(set(targets) - set(PRIORITIES))
        if unknown:
            raise PolicyError(
                f"resolution.targets: unknown priority {', '.join(unknown)}; priorities are {', '.join(PRIORITIES)}"
            )
        return cls(
            first_response=Target.parse(first.get("target", ""), "first_response.target"),
            resolution={p: Target.parse(t, f"resolution.targets.{p}") for p, t in targets.items()},
            goals={FIRST_RESPONSE: _goal(first, "first_response"), RESOLUTION: _goal(resolution, "resolution")},
            at_risk_share=_at_risk_share(data.get("at_risk") or {}),
            forecast_warning=_forecast_warning(data.get("forecast") or {}),
        )


def _goal(section: dict[str, Any], name: str) -> float:
    goal = section.get("goal")
    if not isinstance(goal, int | float) or not 0 < goal <= 1:
        raise PolicyError(f"{name}.goal: {goal!r} must be a share between 0 and 1, e.g. 0.95")
    return float(goal)


def _at_risk_share(section: dict[str, Any]) -> float:
    share = section.get("share", SlaPolicy.at_risk_share)
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share < 1:
        raise PolicyError(f"at_risk.share: {share!r} must be a share from 0 up to (not including) 1, e.g. 0.25")
    return float(share)


def _forecast_warning(section: dict[str, Any]) -> float:
    threshold = section.get("warn_above", SlaPolicy.forecast_warning)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 < threshold < 1:
        raise PolicyError(f"forecast.warn_above: {threshold!r} must be a chance strictly between 0 and 1, e.g. 0.5")
    return float(threshold)
