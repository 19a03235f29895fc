"""Points, boxes and text on a diagram's plane, as the modellers draw them: the arithmetic under the
layout checks (geometry.py).

Text is measured as bpmn-js draws it (Arial, lines 1.2 times the font size) with Arial's character
widths; Linux browsers draw Arial with Liberation Sans, which has the same widths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Point = tuple[float, float]

LINE_HEIGHT = 1.2
# Advance widths in thousandths of the font size; a character not listed counts as a digit's width.
ARIAL = {
    **dict.fromkeys("ijl'", 222),
    **dict.fromkeys(" ft,./:;!I[]\\", 278),
    **dict.fromkeys("r-()`", 333),
    **dict.fromkeys('"', 355),
    **dict.fromkeys("cksvxyzJ", 500),
    **dict.fromkeys("abdeghnopquL0123456789?", 556),
    **dict.fromkeys("FTZ", 611),
    **dict.fromkeys("ABEKPSVXY", 667),
    **dict.fromkeys("CDHNRUw", 722),
    **dict.fromkeys("GOQ", 778),
    **dict.fromkeys("mM", 833),
    **dict.fromkeys("W", 944),
}


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def centre(self) -> Point:
        return self.x + self.w / 2, self.y + self.h / 2

    def shrunk(self, by: float) -> Box:
        """The box ``by`` pixels smaller on every side (larger for a negative ``by``)."""
        return Box(self.x + by, self.y + by, max(self.w - 2 * by, 0.0), max(self.h - 2 * by, 0.0))

    def overlaps(self, other: Box) -> bool:
        """Whether the two share any area (touching borders do not)."""
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def holds(self, other: Box, slack: float = 0.5) -> bool:
        return (
            other.x >= self.x - slack
            and other.y >= self.y - slack
            and other.right <= self.right + slack
            and other.bottom <= self.bottom + slack
        )

    def holds_point(self, point: Point) -> bool:
        return self.x <= point[0] <= self.right and self.y <= point[1] <= self.bottom

    def size(self) -> str:
        return f"{self.w:.0f} x {self.h:.0f} px"


# --- segments against rectangles, circles and diamonds ---------------------------------------------


def crosses_box(a: Point, b: Point, box: Box) -> bool:
    """Whether the segment runs through the inside of ``box`` (Liang-Barsky clipping); running along
    its border is not through it."""
    if box.w <= 0 or box.h <= 0:
        return False
    dx, dy = b[0] - a[0], b[1] - a[1]
    start, end = 0.0, 1.0
    for p, q in ((-dx, a[0] - box.x), (dx, box.right - a[0]), (-dy, a[1] - box.y), (dy, box.bottom - a[1])):
        if p == 0:
            if q <= 0:
                return False
        elif p < 0:
            start = max(start, q / p)
        else:
            end = min(end, q / p)
    if end - start <= 1e-9:
        return False
    middle = (start + end) / 2
    x, y = a[0] + middle * dx, a[1] + middle * dy
    return box.x < x < box.right and box.y < y < box.bottom


def crosses_circle(a: Point, b: Point, centre: Point, radius: float) -> bool:
    return distance_to_segment(centre, a, b) < radius


def crosses_diamond(a: Point, b: Point, box: Box) -> bool:
    """Whether the segment runs inside the diamond drawn in ``box`` (a gateway)."""
    if box.w <= 0 or box.h <= 0:
        return False
    return min(_diamond_distance(point, box) for point in _diamond_candidates(a, b, box.centre)) < 1


def on_rectangle(point: Point, box: Box, tolerance: float) -> bool:
    return box.shrunk(-tolerance).holds_point(point) and not box.shrunk(tolerance).holds_point(point)


def on_circle(point: Point, centre: Point, radius: float, tolerance: float) -> bool:
    return abs(math.hypot(point[0] - centre[0], point[1] - centre[1]) - radius) <= tolerance


def on_diamond(point: Point, box: Box, tolerance: float) -> bool:
    return abs(_diamond_distance(point, box) - 1) * min(box.w, box.h) / 2 <= tolerance


def distance_to_segment(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if not length else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def collinear_overlap(a: Point, b: Point, c: Point, d: Point, tolerance: float) -> bool:
    """Whether two horizontal (or two vertical) segments lie on one line for more than ``tolerance``."""
    for axis in (0, 1):
        across = 1 - axis
        if a[across] == b[across] and c[across] == d[across] and abs(a[across] - c[across]) < 1:
            low = max(min(a[axis], b[axis]), min(c[axis], d[axis]))
            high = min(max(a[axis], b[axis]), max(c[axis], d[axis]))
            if high - low > tolerance:
                return True
    return False


def _diamond_distance(point: Point, box: Box) -> float:
    """|dx|/half-width + |dy|/half-height: below 1 inside the diamond, 1 on its outline."""
    cx, cy = box.centre
    return abs(point[0] - cx) / (box.w / 2) + abs(point[1] - cy) / (box.h / 2)


def _diamond_candidates(a: Point, b: Point, centre: Point) -> list[Point]:
    """Where along a segment the diamond distance (piecewise linear along it) can be least: its ends
    and where it crosses the diamond's axes."""
    points = [a, b]
    for axis in (0, 1):
        if (a[axis] - centre[axis]) * (b[axis] - centre[axis]) < 0:
            t = (centre[axis] - a[axis]) / (b[axis] - a[axis])
            points.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    return points


# --- text ------------------------------------------------------------------------------------------


def text_size(text: str, width: float, font: float) -> tuple[float, float] | None:
    """Width and height of ``text`` wrapped at spaces to ``width`` (as bpmn-js wraps it); None when a
    word alone is wider."""
    lines: list[float] = []
    space = text_width(" ", font)
    for paragraph in text.split("\n"):
        line = 0.0
        for word in paragraph.split():
            word_width = text_width(word, font)
            if word_width > width + 0.5:
                return None
            if line and line + space + word_width > width + 0.5:
                lines.append(line)
                line = word_width
            else:
                line = line + space + word_width if line else word_width
        lines.append(line)
    return max(lines), len(lines) * font * LINE_HEIGHT


def text_width(text: str, font: float) -> float:
    return sum(ARIAL.get(char, 556) for char in text) * font / 1000
