"""Draws a ticket's SLA clocks as a timeline: when each ran, paused and was breached,
against its due moment (C12-C14, C23). Server-side SVG, no script."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from supportdesk.engine.working_time.clock import local, shown

WIDTH, ROW, LEFT, TOP = 720, 34, 130, 24


def render(clocks, now: datetime) -> Markup:
    if not clocks:
        return Markup("")
    moments = [now] + [c.started_at for c in clocks] + [at for c in clocks for _, at in c.segments]
    moments += [c.due_at for c in clocks if c.due_at]
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 60.0)

    def x(moment: datetime) -> float:
        return LEFT + (WIDTH - LEFT - 10) * (moment - start).total_seconds() / span

    height = TOP + ROW * len(clocks) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="SLA clocks over time">',
        f'<text class="axis" x="{LEFT}" y="14">{escape(f"{local(start):%d %b %H:%M}")}</text>',
        f'<text class="axis" x="{WIDTH - 10}" y="14" text-anchor="end">{escape(f"{local(end):%d %b %H:%M}")}</text>',
    ]
    for row, clock in enumerate(clocks):
        parts.append(_row(clock, TOP + row * ROW, x, now))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in the parts went through escape())


def _row(clock, y: float, x, now: datetime) -> str:
    label = clock.metric.replace("_", " ")
    parts = [f'<text class="clock-name" x="4" y="{y + 16}">{escape(label)}</text>']
    for kind, begin, finish in _spans(clock, now):
        title = f"{kind} {local(begin):%d %b %H:%M} to {local(finish):%d %b %H:%M}"
        parts.append(
            f'<rect class="span {kind}" x="{x(begin)}" y="{y + 4}" width="{max(x(finish) - x(begin), 1)}" '
            f'height="16"><title>{escape(title)}</title></rect>'
        )
    if clock.due_at:
        parts.append(
            f'<line class="due" x1="{x(clock.due_at)}" x2="{x(clock.due_at)}" y1="{y}" y2="{y + 24}">'
            f"<title>{escape(f'due {shown(clock.due_at)}')}</title></line>"
        )
    for kind, at in clock.segments:
        if kind in ("breach", "regrade"):
            parts.append(
                f'<circle class="mark {kind}" cx="{x(at)}" cy="{y + 12}" r="4">'
                f"<title>{escape(f'{kind} {local(at):%d %b %H:%M}')}</title></circle>"
            )
    return "".join(parts)


def _spans(clock, now: datetime):
    """(running|paused, from, to) for each stretch between the clock's changes."""
    stretches, state, since = [], None, None
    for kind, at in clock.segments:
        if kind in ("start", "resume", "pause", "stop"):
            if state is not None:
                stretches.append((state, since, at))
            state = {"start": "running", "resume": "running", "pause": "paused", "stop": None}[kind]
            since = at
    if state is not None:
        stretches.append((state, since, now))
    return stretches
