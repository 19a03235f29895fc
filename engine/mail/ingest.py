"""Mail from files: one .eml file, a folder of .eml files, or a Maildir
(its ``new/`` and ``cur/`` messages). Files are only read, never moved: receiving
a mail twice changes nothing, so a folder can be ingested again safely."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.mail.inbound import Receipt, receive


@dataclass(frozen=True)
class Ingested:
    path: Path
    receipt: Receipt | None  # None: the store failed, the file was not taken in
    error: str = ""

    @property
    def kept(self) -> bool:
        return self.receipt is not None and self.receipt.outcome != "too_large"


def mail_files(path: Path) -> list[Path]:
    """The message files at ``path``, in a stable order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise NotFound(f"{path} is neither a file nor a folder")
    if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):  # a Maildir: tmp/ holds unfinished deliveries
        return sorted(
            f for sub in ("new", "cur") for f in (path / sub).iterdir() if f.is_file() and not f.name.startswith(".")
        )
    return sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() == ".eml")


def ingest(desk: Desk, path: Path) -> Iterator[Ingested]:
    """File every message at ``path``, one command each."""
    for file in mail_files(path):
        yield ingest_file(desk, file)


def ingest_file(desk: Desk, file: Path) -> Ingested:
    limit = desk.settings.max_message_bytes
    size = file.stat().st_size
    if size > limit:  # not read at all; the file stays where it is
        return Ingested(
            file,
            Receipt("too_large", detail=f"{size} bytes, more than the {limit} allowed (SUPPORTDESK_MAX_MESSAGE_BYTES)"),
        )
    try:
        return Ingested(file, receive(desk, file.read_bytes(), source=f"file {file.resolve()}"))
    except Exception as exc:  # noqa: BLE001  (the store failed: report it, go on with the next file)
        return Ingested(file, None, f"{exc.__class__.__name__}: {exc}")
