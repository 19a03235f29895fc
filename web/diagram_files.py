"""A process owner's check of uploaded diagram files on the versions page: the problems the gate
found, the difference from the active version to draw, and the checked files carried back in the
page's deploy form, so that what is deployed is exactly what was checked.

A checked file travels packed (zlib, then base64): base64 keeps its bytes as they were (a text
field would have its line endings rewritten by the browser), zlib keeps a large diagram well under
the size a form field may have.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from supportdesk.engine.admin import UploadCheck
from supportdesk.engine.errors import DiagramError
from supportdesk.engine.process.problems import Problem

from . import diagram_view


def packed(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def unpacked(packed_text: str, limit: int) -> bytes:
    """The file's bytes, at most ``limit`` of them (the engine refuses a file that long as too large);
    ValueError for what did not come from ``packed``."""
    try:
        inflater = zlib.decompressobj()
        content = inflater.decompress(base64.b64decode(packed_text.encode("ascii"), validate=True), limit)
    except (binascii.Error, zlib.error, UnicodeEncodeError) as exc:
        raise ValueError(f"not a packed file: {exc}") from exc
    if not inflater.eof and not inflater.unconsumed_tail:
        raise ValueError("not a packed file: it ends early")
    return content


def packed_files(check: UploadCheck) -> list[tuple[str, str]]:
    """The uploaded files of a check, for its deploy form (the others are the active version's)."""
    return [(name, packed(text)) for name, text in sorted(check.uploaded.items())]


def problems_of(refused: DiagramError) -> tuple[Problem, ...]:
    """Every problem of a refused deploy (the gate's refusal holds them all; an older error one)."""
    problems = getattr(refused, "problems", None)
    return tuple(problems) if problems else (Problem(refused.file, refused.line, refused.element_id, refused.detail),)


def check_comparisons(check: UploadCheck) -> list[diagram_view.Comparison]:
    """The active version's files and the checked ones, where they differ, drawn with the differences."""
    if check.changes is None or check.errors:
        return []
    active = check.active_number

    def before(name: str) -> diagram_view.DiagramView:
        return diagram_view.stored(active or 0, name, f"{name}, version {active} (active now)")

    def after(name: str) -> diagram_view.DiagramView:
        return diagram_view.DiagramView(f"{name} as checked", name, xml=check.files[name])

    return diagram_view.comparisons(check.changes, check.active_files, check.files, before, after)
