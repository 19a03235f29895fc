"""The files of a conversation: checked and named safely on the way in, kept by the attachment store,
served so that a browser downloads them and never runs them.

Where the bytes are kept is a setting (``SUPPORTDESK_ATTACHMENT_STORE``):
- ``database`` (the default): in the attachment's own row, so one backup holds everything;
- ``folder``: in ``SUPPORTDESK_ATTACHMENT_DIR``, one file per content named by its SHA-256
  (``ab/cd/abcd…``), so the same file sent twice is kept once. A file is written to a temporary name
  and renamed, so a crash leaves no half file under a real name. Every web process and worker must
  see the same folder. A command rolled back after its files were written leaves them unnamed by any
  row (harmless: the next upload of the same bytes uses them).
Reading checks the SHA-256 either way: a file changed on disk is refused, never served.

The sender's file name and content type are kept as they said, made harmless: the name without any
path or control characters, the type only as a label. Serving never trusts the type: HTML, SVG, XML
and anything else a browser could run are served as ``application/octet-stream``, always as a
download (``download_headers``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import quote

from sqlalchemy.orm import Session

from supportdesk.engine.errors import InvalidInput, NotFound
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import Attachment

FILENAME_CHARS = 255  # the attachment.filename column
MAX_FILES = 20  # files on one conversation entry written at the desk or on the portal
OCTET_STREAM = "application/octet-stream"
CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,49}/[a-z0-9][a-z0-9!#$&^_.+-]{0,49}")
# Types a browser shows without running anything: served as themselves. Everything else (HTML, SVG,
# XML, JavaScript, PDF viewers' scripting aside) is a plain download of bytes.
SAFE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/gzip",
        "application/json",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "message/rfc822",
    }
)
FOLDER_PATH = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}")


@dataclass(frozen=True)
class Upload:
    """A file someone sends with a conversation entry, before it is kept."""

    filename: str
    content: bytes
    content_type: str = OCTET_STREAM


# --- names and types ------------------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """The sender's file name with nothing that could act as a path or hide what the file is: only its
    last segment (after ``/`` or ``\\``), no control or formatting characters (which could reverse
    ``exe.txt``), no leading dots, at most 255 characters with the extension kept."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char for char in name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > FILENAME_CHARS:
        _, dot, extension = name.rpartition(".")
        keep = extension if dot and len(extension) <= 20 else ""
        name = name[: FILENAME_CHARS - len(keep) - 1].rstrip(" .") + "." + keep if keep else name[:FILENAME_CHARS]
    return name or "attachment"


def declared_type(content_type: str | None) -> str:
    """The sender's content type, lower-cased and without parameters, or octet-stream if it is no type."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind if CONTENT_TYPE.fullmatch(kind) else OCTET_STREAM


def served_type(content_type: str) -> str:
    """The type a file is served with: its own only when a browser cannot run it."""
    kind = declared_type(content_type)
    return kind if kind in SAFE_TYPES else OCTET_STREAM


class _Described(Protocol):
    filename: str
    content_type: str
    size: int


def download_headers(attachment: _Described) -> dict[str, str]:
    """Headers for sending ``attachment`` to a browser: always a download (RFC 6266, with the name in
    UTF-8 by RFC 5987 and an ASCII fallback), never sniffed into something runnable, and sandboxed
    should a browser show it anyway."""
    name = safe_filename(attachment.filename)
    fallback = "".join(char if 32 <= ord(char) < 127 and char not in '"\\%' else "_" for char in name)
    return {
        "Content-Type": served_type(attachment.content_type),
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Length": str(attachment.size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }


# --- limits ------------------------------------------------------------------------------------------------


def checked(uploads: Iterable[Upload], settings: Settings) -> tuple[Upload, ...]:
    """The uploads with safe names and types, or InvalidInput (field ``attachments``) naming each file
    over the limit for one file, and the total when all together are over the limit for one entry."""
    files = tuple(Upload(safe_filename(u.filename), bytes(u.content), declared_type(u.content_type)) for u in uploads)
    one, together = settings.max_attachment_bytes, settings.max_attachments_bytes
    problems = [
        f"{u.filename} is {_size(len(u.content))}, more than the {_size(one)} allowed for one file"
        for u in files
        if len(u.content) > one
    ]
    total = sum(len(u.content) for u in files)
    if total > together:
        problems.append(
            f"the files together are {_size(total)}, more than the {_size(together)} allowed on one message"
        )
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files: at most {MAX_FILES} go with one message")
    if problems:
        raise InvalidInput("the files cannot be attached", {"attachments": "; ".join(problems)})
    return files


def _size(size: int) -> str:
    return f"{size} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MiB"


def too_large(size: int, total_so_far: int, settings: Settings) -> str | None:
    """Why a received file is not kept (its mail keeps it), or None: one file over the limit for one
    file, or the files of one mail over the limit for one entry."""
    if size > settings.max_attachment_bytes:
        return f"{size} bytes, over the {settings.max_attachment_bytes} allowed for one file (the received mail has it)"
    if total_so_far + size > settings.max_attachments_bytes:
        return (
            f"the mail's files are over the {settings.max_attachments_bytes} bytes kept for one message "
            "(the received mail has it)"
        )
    return None


# --- the store -------------------------------------------------------------------------------------------


def keep(
    session: Session,
    settings: Settings,
    upload: Upload,
    *,
    now: datetime,
    ticket_id: int | None = None,
    message_id: int | None = None,
    inbound_mail_id: int | None = None,
    not_kept: str | None = None,
) -> Attachment:
    """A row for ``upload`` (checked already), its bytes in the store the settings name; with
    ``not_kept``, only its description (the received mail keeps the bytes)."""
    digest = hashlib.sha256(upload.content).hexdigest()
    row = Attachment(
        message_id=message_id,
        ticket_id=ticket_id,
        inbound_mail_id=inbound_mail_id,
        filename=safe_filename(upload.filename),
        content_type=declared_type(upload.content_type)[:100],
        size=len(upload.content),
        sha256=digest,
        storage="none",
        not_kept=(not_kept or "")[:500],
        created_at=now,
    )
    if not_kept is None:
        if settings.attachment_store == "folder":
            row.storage, row.path = "folder", _write_once(Path(settings.attachment_dir), digest, upload.content)
        else:
            row.storage, row.content = "database", upload.content
    session.add(row)
    return row


@dataclass(frozen=True)
class Recorded:
    """A file as a history event describes it (``commands.described``), without its bytes."""

    filename: str
    content_type: str
    size: int
    sha256: str


def keep_recorded(
    session: Session, file: Recorded, *, now: datetime, ticket_id: int | None, message_id: int | None
) -> Attachment:
    """A row describing a file whose bytes are elsewhere: the audit replay's copy of an entry."""
    row = Attachment(
        message_id=message_id,
        ticket_id=ticket_id,
        filename=file.filename,
        content_type=file.content_type,
        size=file.size,
        sha256=file.sha256,
        storage="none",
        not_kept="written again by a replay, which keeps no bytes",
        created_at=now,
    )
    session.add(row)
    return row


def keep_received(
    session: Session, settings: Settings, inbound_mail_id: int, files: Iterable[Upload], *, now: datetime
) -> list[Attachment]:
    """The files of a received mail, on no call yet (``commands.add_customer_mail`` gives them their
    entry): each kept up to the limits, else only described, with why (the received mail has it)."""
    rows, total = [], 0
    for file in files:
        reason = too_large(len(file.content), total, settings)
        total += 0 if reason else len(file.content)
        rows.append(keep(session, settings, file, now=now, inbound_mail_id=inbound_mail_id, not_kept=reason))
    session.flush()
    return rows


def content_of(settings: Settings, row: Attachment) -> bytes:
    """The bytes of a kept file, checked against its SHA-256; NotFound when it is not kept or damaged."""
    if row.storage == "database" and row.content is not None:
        data = row.content
    elif row.storage == "folder" and row.path and FOLDER_PATH.fullmatch(row.path):
        try:
            data = (Path(settings.attachment_dir) / PurePosixPath(row.path)).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"the file of attachment {row.id} ({row.filename}) is missing from the folder") from None
    else:
        raise NotFound(f"attachment {row.id} ({row.filename}) was not kept: {row.not_kept or 'no content'}")
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise NotFound(f"attachment {row.id} ({row.filename}) is damaged: its content no longer matches its SHA-256")
    return data


def _write_once(root: Path, digest: str, content: bytes) -> str:
    """Keep ``content`` under its digest in ``root`` (once: the same bytes are there already, or are
    written now); returns the path relative to ``root``."""
    relative = f"{digest[:2]}/{digest[2:4]}/{digest}"
    target = root / relative
    if target.is_file() and target.stat().st_size == len(content) and _digest_of(target) == digest:
        return relative  # kept before, and still whole
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())  # on disk before it has its name: a crash leaves a temp file, never half a file
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)
    return relative


def _digest_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: the folder's entry is written by syncing the folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows, where folders cannot be opened: the rename is durable there
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
