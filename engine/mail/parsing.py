"""Reading a received mail: who sent it, what it says, what it answers, what came with it,
and whether a machine sent it (an auto-reply or a bounce, which must never open a call).

Built on the standard library's ``email`` package with its modern policy, made
tolerant where real mail is not: undeclared or unknown charsets, 8-bit bytes in
headers, HTML-only bodies, broken transfer encodings. What cannot be read at all
raises ``Unreadable`` with the reason, and the caller quarantines the message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import PurePath
from typing import ClassVar

_PARSER = BytesParser(policy=policy.default)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_THREAD_IDS = 50  # a References header can be long; the newest ids are at its end
# RFC 3834 and the usual vendor headers of out-of-office and list software.
AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}


# Headers that servers on the way add to a message (trace, authentication and filter results):
# the same mail relayed another way differs only in these.
TRACE_HEADERS = {
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-received",
    "received-spf",
    "authentication-results",
    "x-envelope-from",
    "x-envelope-to",
}
TRACE_PREFIXES = ("arc-", "x-spam-", "x-virus-", "x-ms-exchange-", "x-forefront-", "x-google-")


def content_digest(raw: bytes) -> str:
    """SHA-256 of a message less its trace headers (and line endings): the same for copies of one
    mail that came by different relays, different for any other content."""
    data = raw.replace(b"\r\n", b"\n")
    head, blank, body = data.partition(b"\n\n")
    kept, skipping = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a folded header's next line belongs to it
            if not skipping:
                kept.append(line)
            continue
        name = line.partition(b":")[0].strip().lower().decode("latin-1")
        skipping = name in TRACE_HEADERS or name.startswith(TRACE_PREFIXES)
        if not skipping:
            kept.append(line)
    return hashlib.sha256(b"\n".join(kept) + blank + body).hexdigest()


class Unreadable(ValueError):
    """The message cannot be read as a mail; the text says why."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    from_name: str
    from_address: str  # lower-cased; "" when the mail names no sender
    subject: str
    text: str  # the body as plain text (from the HTML part when there is no plain one)
    attachments: list[Attachment] = field(default_factory=list)
    thread_ids: list[str] = field(default_factory=list)  # In-Reply-To and References
    auto_reply: str | None = None  # why it is machine-sent, or None

    @property
    def sender(self) -> str:
        return f"{self.from_name} <{self.from_address}>" if self.from_name else self.from_address


def parse(raw: bytes, *, envelope_from: str = "", own_addresses: frozenset[str] = frozenset()) -> ParsedMail:
    """Read ``raw``; ``envelope_from`` is SMTP's MAIL FROM ("<>" for a bounce), ``own_addresses``
    the desk's own (mail from them is a loop)."""
    if not raw.strip():
        raise Unreadable("the message is empty")
    try:
        message = _PARSER.parsebytes(raw)
        return _read(message, envelope_from, own_addresses)
    except Unreadable:
        raise
    except Exception as exc:  # the email package's many ways to fail on broken input
        raise Unreadable(f"the message cannot be parsed: {exc.__class__.__name__}: {exc}") from exc


def _read(message: EmailMessage, envelope_from: str, own_addresses: frozenset[str]) -> ParsedMail:
    if not any(name in message for name in ("From", "Subject", "Message-ID", "Date", "To")):
        raise Unreadable("no mail headers (From, To, Subject, Date or Message-ID) were found")
    from_name, from_address = _sender(message)
    if not from_address and envelope_from not in ("", "<>"):
        from_address = envelope_from.strip("<>").lower()
    text, attachments = _body(message)
    auto_reply = _auto_reply(message, from_address, envelope_from, own_addresses)
    thread_ids = _thread_ids(message)
    if auto_reply and not thread_ids:  # a bounce answers the mail it carries
        thread_ids = _embedded_ids(message)[-MAX_THREAD_IDS:]
    return ParsedMail(
        message_id=_first_id(_header(message, "Message-ID")),
        from_name=from_name,
        from_address=from_address,
        subject=_header(message, "Subject"),
        text=text,
        attachments=attachments,
        thread_ids=thread_ids,
        auto_reply=auto_reply,
    )


def clean(text: str) -> str:
    """Text safe to store: bytes the parser could not decode (kept as surrogates) are read
    as UTF-8 or else Windows-1252, and NULs (PostgreSQL refuses them) are dropped."""
    if any("\udc80" <= char <= "\udcff" for char in text):
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", "replace")
    return text.replace("\x00", "")


def _header(message: Message, name: str) -> str:
    """A header as one line of text. Raw 8-bit bytes (no MIME encoding, against the rules but
    common) are decoded by ``clean``; the parser would turn them into replacement marks."""
    raw = next((value for key, value in message.raw_items() if key.lower() == name.lower()), None)
    if raw is None:
        return ""
    value: object = raw
    if clean(raw) == raw:  # no undecoded bytes: let the parser decode MIME encoded-words
        try:
            value = message.get(name)
        except Exception:  # noqa: BLE001  (a malformed header must not lose the mail)
            value = raw
    return " ".join(clean(str(value)).split())


def _sender(message: EmailMessage) -> tuple[str, str]:
    try:
        header = message.get("From")
        addresses = getattr(header, "addresses", ())
    except Exception:  # noqa: BLE001
        addresses = ()
    for address in addresses:
        if address.username and address.domain:
            return clean(address.display_name).strip(), clean(address.addr_spec).strip().lower()
    return "", ""


def _first_id(value: str) -> str | None:
    found = MESSAGE_ID.search(value)
    if found:
        return found.group()[:300]
    return value.strip()[:300] or None


def _thread_ids(message: Message) -> list[str]:
    ids = MESSAGE_ID.findall(f"{_header(message, 'In-Reply-To')} {_header(message, 'References')}")
    return list(dict.fromkeys(ids))[-MAX_THREAD_IDS:]


def _auto_reply(message: Message, from_address: str, envelope_from: str, own: frozenset[str]) -> str | None:
    """Why the mail was sent by a machine, or None. Such mail never opens a call or gets
    a confirmation: two auto-responders must not write to each other for ever."""
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if envelope_from == "<>" or _header(message, "Return-Path") == "<>":
        return "sent with an empty return path (a bounce)"
    if from_address.partition("@")[0] in BOUNCE_SENDERS:
        return f"sent by {from_address} (a bounce)"
    if from_address and from_address in own:
        return f"sent by the desk's own address {from_address}"
    if message.get_content_type() == "multipart/report":
        return "a delivery or read report (multipart/report)"
    precedence = _header(message, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in AUTO_HEADERS:
        if name in message:
            return f"{name} header"
    return None


def _body(message: EmailMessage) -> tuple[str, list[Attachment]]:
    """The text of the mail and its attachments, whatever the structure. Text parts
    are joined (some mail programs split the text around inline pictures)."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for number, part in enumerate(_leaves(message), start=1):
        content_type, filename = clean(part.get_content_type()), _filename(part)
        if content_type.startswith("multipart/"):  # a multipart without its boundary: read it as text
            content_type = "text/plain"
        if (
            filename is None
            and part.get_content_disposition() != "attachment"
            and content_type in ("text/plain", "text/html")
        ):
            (plain if content_type == "text/plain" else html).append(_text(part))
            continue
        attachments.append(Attachment(filename or _made_up_name(number, content_type), content_type, _payload(part)))
    text = "\n\n".join(plain) if "".join(plain).strip() else html_to_text("".join(html))
    return text.strip(), attachments


def _leaves(part: Message):
    """The parts that hold content; an attached mail (message/rfc822) is one part, not opened."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield part
        return
    for sub in part.get_payload():
        if isinstance(sub, Message):
            yield from _leaves(sub)


def _embedded_ids(message: Message) -> list[str]:
    """The Message-IDs of the mails a bounce carries (the original, or its headers)."""
    ids: list[str] = []
    for part in _leaves(message):
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            ids += MESSAGE_ID.findall(_header(part.get_payload(0), "Message-ID"))
        elif content_type == "text/rfc822-headers":
            ids += MESSAGE_ID.findall(_header(_PARSER.parsebytes(_payload(part), headersonly=True), "Message-ID"))
    return ids


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        try:
            attached = part.get_payload(0)
            return attached.as_bytes() if isinstance(attached, Message) else b""
        except Exception:  # noqa: BLE001  (a broken attached mail: the raw message still has it)
            return b""
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    return str(part.get_payload()).encode("utf-8", "surrogateescape")


def _text(part: Message) -> str:
    return clean(decode_text(_payload(part), part.get_content_charset()))


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset; when it is unknown or wrong, UTF-8, else Windows-1252
    (which reads any byte, and is what undeclared 8-bit mail mostly is)."""
    for candidate in (charset, "utf-8"):
        if candidate:
            try:
                return data.decode(candidate)
            except (LookupError, UnicodeDecodeError):
                pass
    return data.decode("cp1252", "replace")


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        return "attachment"
    if not name:
        return None
    # Only the last path segment, whatever the sender put before it.
    name = PurePath(clean(str(name)).replace("\\", "/")).name.strip()
    return name[:255] or "attachment"


def _made_up_name(number: int, content_type: str) -> str:
    subtype = content_type.partition("/")[2] or "bin"
    return f"part-{number}.{re.sub(r'[^a-z0-9]+', '-', subtype.lower())[:20]}"


class _TextOfHtml(HTMLParser):
    BLOCKS: ClassVar = {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "hr",
    }
    HIDDEN: ClassVar = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """What a person reads in an HTML mail, as plain lines."""
    reader = _TextOfHtml()
    reader.feed(html)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(reader.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
