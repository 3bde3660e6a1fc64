"""Reading one inbound mail: its ids, sender, subject, plain-text body, and whether a person
wrote it (auto-replies, bounces, lists and our own mail coming back are not).

Pure functions over bytes; nothing here touches the database or the network.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

# The description keeps this much of a body: enough for any mail a person writes, and a mail of
# megabytes (a pasted log, a forwarded thread) stays a readable incident.
MAX_BODY_CHARS = 20_000
SUBJECT_MAX = 200  # Incident.short_description
FALLBACK_SUBJECT = "Mail without a subject"
_MSGID = re.compile(r"<[^<>\s]+>")
_NUMBER = re.compile(r"\bINC\d{7}\b")
# "On Tue, 1 Dec 2026 at 10:00, Tina <tina@example.com> wrote:" (Gmail, Apple Mail, Thunderbird;
# a long one wraps onto a second line) and Outlook's separator: where the quoted part starts.
_REPLY_HEADER = re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL)
_OUTLOOK_SEPARATOR = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


class Unreadable(Exception):
    """The bytes are not a mail we can read at all."""


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: str
    references: list[str]
    sender: str  # the address, lower-cased
    sender_name: str
    subject: str
    body: str
    automatic: str = ""  # why no person wrote it ("Auto-Submitted: auto-replied"), or ""
    notes: list[str] = field(default_factory=list)  # what was cut or converted

    @property
    def thread_ids(self) -> list[str]:
        """The Message-IDs this mail answers, nearest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        return ids + [i for i in reversed(self.references) if i not in ids]

    @property
    def incident_numbers(self) -> list[str]:
        return _NUMBER.findall(self.subject)


def _header(message: Message, name: str) -> str:
    """A header's text, or "" when it is absent or so broken that it cannot be decoded."""
    try:
        value = message.get(name)
    except Exception:  # the default policy raises all sorts on a malformed header
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _ids(text: str) -> list[str]:
    return _MSGID.findall(text)


def mail_key(raw: bytes, message_id: str) -> str:
    """What makes a message one message: its Message-ID, or, when it has none, a digest of its
    bytes (not in angle brackets, so it never equals a real Message-ID)."""
    return message_id or "sha256:" + hashlib.sha256(raw).hexdigest()


class _TextOfHtml(HTMLParser):
    """HTML to plain text without running or fetching anything: the text nodes, a line break
    for each block element, scripts and styles dropped."""

    _BLOCKS = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "table",
            "ul",
            "ol",
            "hr",
            "section",
        ]
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, ValueError, AssertionError, AttributeError):
        # An unknown or lying charset: the bytes as UTF-8, undecodable ones replaced.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _body_of(message: EmailMessage, notes: list[str]) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _text_of(part)
    if part.get_content_subtype() == "html":
        notes.append("HTML-only mail, converted to text")
        text = html_to_text(text)
    text = text.replace("\r\n", "\n").replace("\x00", "")
    if len(text) > MAX_BODY_CHARS:
        notes.append(f"body cut at {MAX_BODY_CHARS:,} of {len(text):,} characters")
        text = text[:MAX_BODY_CHARS]
    return text.strip()


def why_automatic(message: Message, sender: str, our_address: str) -> str:
    """Why this mail is not a person writing to the desk, or "".

    RFC 3834's ``Auto-Submitted``, the vendors' auto-reply headers, bulk and list mail, bounces
    (an empty ``Return-Path`` or a DSN) and our own notifications coming back. Answering any of
    them with a new incident could start a loop of incidents and notifications.
    """
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id"):
        if message.get(name) is not None:
            return f"{name} header"
    precedence = _header(message, "Precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    return_path = message.get("Return-Path")
    if return_path is not None and parseaddr(str(return_path))[1] == "":
        return "empty Return-Path (a bounce)"
    if message.get_content_type() == "multipart/report":
        return "a delivery status report (multipart/report)"
    if sender and sender == our_address.lower():
        return f"sent by {our_address}: our own mail coming back"
    return ""


def strip_quoted(text: str) -> str:
    """The new part of a reply: lines quoted with ``>`` dropped, and everything from an
    "On … wrote:" line (or Outlook's "Original Message" separator) on cut. Simple on purpose:
    a reply that interleaves answers keeps its own lines, loses the quoted ones."""
    kept: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if _OUTLOOK_SEPARATOR.match(line) or _REPLY_HEADER.match(line):
            break
        following = lines[index + 1] if index + 1 < len(lines) else ""
        # A long "On … wrote:" wraps onto a second line.
        if following.rstrip().endswith("wrote:") and _REPLY_HEADER.match(line + " " + following):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def parse(raw: bytes, *, our_address: str) -> ParsedMail:
    """Read ``raw``; Unreadable when it is no mail at all (no headers, not even a subject)."""
    if not raw or not raw.strip():
        raise Unreadable("an empty message")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as error:  # the parser's errors are many and undocumented
        raise Unreadable(f"cannot parse: {error}") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise Unreadable("no headers")
    notes: list[str] = []
    try:
        senders = getaddresses([_header(message, "From")])
    except Exception:  # a From that even getaddresses cannot take
        senders = []
    sender_name, sender = senders[0] if senders else ("", "")
    sender = sender.lower() if "@" in sender else ""
    try:
        body = _body_of(message, notes)
    except Exception as error:  # a broken MIME tree: keep what the headers say
        notes.append(f"body unreadable: {error}")
        body = ""
    message_ids = _ids(_header(message, "Message-ID"))
    reply_to = _ids(_header(message, "In-Reply-To"))
    return ParsedMail(
        message_id=message_ids[0][:998] if message_ids else "",
        in_reply_to=reply_to[0][:998] if reply_to else "",
        references=[i[:998] for i in _ids(_header(message, "References"))][-50:],
        sender=sender[:500],
        sender_name=sender_name[:200],
        subject=_header(message, "Subject"),
        body=body,
        automatic=why_automatic(message, sender, our_address),
        notes=notes,
    )


def short_description(subject: str) -> str:
    """The incident's title from a subject: reply/forward prefixes dropped, cut to fit."""
    text = re.sub(r"^\s*((re|fwd?|aw|sv|tr)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()
    text = text or FALLBACK_SUBJECT
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"
