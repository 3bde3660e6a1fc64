"""The IMAP client of mail in: read new messages from one folder, nothing else.

All of mail in's network I/O is here, and it runs outside any transaction: ``fetch_new`` reads a
batch (``UID SEARCH`` past the last UID handled, then ``UID FETCH … BODY.PEEK[]`` in chunks) and
returns it; ``comms.services.mailbox`` handles each message afterwards in its own transaction.

The folder is opened read-only (``EXAMINE``) and read with ``BODY.PEEK[]``: MIM Desk never deletes,
moves or flags mail (not even ``\\Seen``), so the mailbox stays the service desk's own record and a
second reader (a person, another tool) sees it as it was.

Not an outbox channel (it sends nothing), so it is not in the registry.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"imaps": 993, "imap": 143}
# UID FETCH of many whole messages in one command makes one huge response; chunks keep the
# client's memory to a chunk's worth of mail while the round trips stay few.
FETCH_CHUNK = 50
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")


class ImapError(Exception):
    """The mailbox could not be read (unreachable, refused login, no such folder): the poll
    stops, records the message on the folder's state, and the next tick tries again."""


@dataclass(frozen=True)
class MailboxURL:
    """``imaps://user:password@host:993/FOLDER`` parsed; the password URL-decoded."""

    scheme: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str

    @property
    def name(self) -> str:
        """The folder's key in ``MailboxState`` and ``InboundMail``: no password in it."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_url(url: str) -> MailboxURL:
    """Parse ``MIM_IMAP_URL``; ValueError naming what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("MIM_IMAP_URL must start with imaps:// or imap://")
    if not parts.hostname:
        raise ValueError("MIM_IMAP_URL names no host")
    if not parts.username or parts.password is None:
        raise ValueError("MIM_IMAP_URL needs user:password@ before the host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as error:
        raise ValueError(f"MIM_IMAP_URL has a bad port: {error}") from None
    return MailboxURL(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes


@dataclass
class Batch:
    """New messages of one folder, oldest first, under the folder's ``uid_validity``.

    ``reread`` says the server's UIDVALIDITY was not the one the caller knew: its UIDs mean
    nothing any more, so the folder was read from its first message.
    """

    uid_validity: int
    reread: bool
    messages: list[Fetched]
    pending: int = 0  # new messages left for the next polls (over the batch size)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _connect(mailbox: MailboxURL, timeout: float) -> imaplib.IMAP4:
    if mailbox.scheme == "imaps":
        return imaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
    # imap:// is for a trusted network; still, the password goes encrypted whenever the server
    # can do it, and a certificate that fails verification stops the poll.
    if "STARTTLS" in client.capabilities:
        client.starttls(ssl_context=ssl.create_default_context())
    return client


def _check(response: tuple[str, list], what: str) -> list:
    status, data = response
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
        raise ImapError(f"{what} failed: {detail or status}")
    return data


def _uid_validity(client: imaplib.IMAP4, folder: str) -> int:
    _, data = client.response("UIDVALIDITY")
    for item in data or ():
        if isinstance(item, bytes) and item.isdigit():
            return int(item)
    # A server that left it out of the SELECT answer still tells it to STATUS.
    _, data = client.status(_quote(folder), "(UIDVALIDITY)")
    for item in data or ():
        if isinstance(item, bytes) and (found := _UIDVALIDITY.search(item)):
            return int(found.group(1))
    raise ImapError("the server gave no UIDVALIDITY for the folder")


def _parse_fetch(data: list) -> list[Fetched]:
    fetched = []
    for item in data:
        # A message comes as (b'7 (UID 42 BODY[] {1234}', b'<raw>'); the closing b')' and
        # untagged FLAGS lines are bytes on their own and carry no message.
        if isinstance(item, tuple) and len(item) == 2:
            found = _FETCH_UID.search(item[0])
            if found:
                fetched.append(Fetched(uid=int(found.group(1)), raw=item[1]))
    return fetched


def fetch_new(
    mailbox: MailboxURL,
    *,
    uid_validity: int,
    last_uid: int,
    limit: int,
    timeout: float = 30.0,
) -> Batch:
    """The folder's messages after ``last_uid`` (all of them when the server's UIDVALIDITY is not
    ``uid_validity``), at most ``limit``, oldest first. ImapError when the server cannot be
    read."""
    try:
        client = _connect(mailbox, timeout)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as error:
        raise ImapError(f"cannot reach {mailbox.host}:{mailbox.port}: {error}") from None
    try:
        try:
            _check(client.login(mailbox.user, mailbox.password), "login")
        except imaplib.IMAP4.error as error:
            raise ImapError(f"login as {mailbox.user} refused: {error}") from None
        _check(client.select(_quote(mailbox.folder), readonly=True), f"EXAMINE {mailbox.folder}")
        server_validity = _uid_validity(client, mailbox.folder)
        reread = server_validity != uid_validity
        start = 1 if reread else last_uid + 1
        (found,) = _check(client.uid("SEARCH", "UID", f"{start}:*"), "UID SEARCH")
        # "N:*" always matches the last message, even below N (RFC 3501 6.4.8): keep UIDs >= N.
        uids = sorted(u for u in map(int, (found or b"").split()) if u >= start)
        chosen = uids[:limit]
        messages: list[Fetched] = []
        for begin in range(0, len(chosen), FETCH_CHUNK):
            chunk = chosen[begin : begin + FETCH_CHUNK]
            data = _check(
                client.uid("FETCH", ",".join(map(str, chunk)), "(UID BODY.PEEK[])"), "UID FETCH"
            )
            messages.extend(_parse_fetch(data))
        messages.sort(key=lambda message: message.uid)
        return Batch(
            uid_validity=server_validity,
            reread=reread,
            messages=messages,
            pending=len(uids) - len(chosen),
        )
    except (TimeoutError, OSError, imaplib.IMAP4.abort, ssl.SSLError) as error:
        raise ImapError(f"lost {mailbox.host}:{mailbox.port}: {error}") from None
    except imaplib.IMAP4.error as error:
        raise ImapError(str(error)) from None
    finally:
        # The batch is read; a connection that drops at LOGOUT loses nothing.
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
