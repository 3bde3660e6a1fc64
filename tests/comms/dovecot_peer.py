"""A real Dovecot IMAP server for mail in's tests and bench (Debian's ``dovecot-core``).

Each process (each xdist worker, the bench) starts its own: a config, passwd-file, maildir, state
and log in a temp directory, listening on a free loopback port, plaintext login allowed there
(``ssl = no``). Mail goes in with IMAP APPEND, as a mail client or an MTA's LMTP would put it in
a folder: real IMAP all the way.

Run as root (CI containers), Dovecot refuses to run its login processes or to access mail as
root, so those run as ``nobody`` and the temp directory is made readable to it; run as anyone
else, every process runs as that user.
"""

from __future__ import annotations

import imaplib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.peers import free_port, missing_peer

DOVECOT = "/usr/sbin/dovecot"
USER = "desk"
# Characters a URL must escape, to prove the poller decodes the password.
PASSWORD = "s3cret p@ss/word%"


def available() -> bool:
    return Path(DOVECOT).exists()


def require() -> None:
    """Skip without Dovecot on a developer's machine; fail in CI, where it must be there."""
    if available():
        return
    missing_peer(f"{DOVECOT} is missing (apt-get install dovecot-imapd)")


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = mim-test-{tag}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/mail/%u
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    def __init__(self, root: Path, tag: str) -> None:
        self.root = root
        self.port = free_port()
        self.folders = itertools.count(1)
        me = pwd.getpwuid(os.getuid())
        if os.getuid() == 0:
            mail = pwd.getpwnam("nobody")
            internal_user, internal_group, login_user = "root", "root", mail.pw_name
        else:
            mail = me
            internal_user = login_user = me.pw_name
            internal_group = str(os.getgid())
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir()
        root.chmod(0o755)  # mkdtemp's 0700 would keep the nobody processes out
        for sub in ("mail", "home"):
            os.chown(root / sub, mail.pw_uid, mail.pw_gid)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.password = PASSWORD
        (root / "dovecot.conf").write_text(
            _CONFIG.format(
                root=root,
                tag=tag,
                port=self.port,
                internal_user=internal_user,
                internal_group=internal_group,
                login_user=login_user,
                mail_uid=mail.pw_uid,
                mail_gid=mail.pw_gid,
            )
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                client = self.client()
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
                continue
            client.logout()
            return
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def url(self, folder: str = "INBOX") -> str:
        credentials = f"{quote(USER, safe='')}:{quote(self.password, safe='')}"
        return f"imap://{credentials}@127.0.0.1:{self.port}/{quote(folder, safe='')}"

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, self.password)
        return client

    def new_folder(self) -> str:
        """A folder of its own for one test: tests share the server, never a folder."""
        name = f"Desk{next(self.folders)}"
        self.create(name)
        return name

    def create(self, folder: str) -> None:
        client = self.client()
        try:
            status, data = client.create(folder)
            assert status == "OK", data
        finally:
            client.logout()

    def delete(self, folder: str) -> None:
        client = self.client()
        try:
            status, data = client.delete(folder)
            assert status == "OK", data
        finally:
            client.logout()

    def append(self, folder: str, *messages: bytes) -> None:
        client = self.client()
        try:
            for raw in messages:
                answer = client.append(folder, "", "", raw)
                assert answer[0] == "OK", answer
        finally:
            client.logout()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start() -> Dovecot:
    """A Dovecot of this process's own (the caller stops it and removes ``server.root``)."""
    tag = os.environ.get("PYTEST_XDIST_WORKER", "main") + f"-{os.getpid()}"
    root = Path(tempfile.mkdtemp(prefix=f"mim-dovecot-{tag}-"))
    try:
        return Dovecot(root, tag)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    require()
    server = start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def mail(
    subject: str = "Checkout is down",
    body: str = "Customers cannot pay since 09:00.",
    *,
    sender: str = "Pat Customer <pat@example.com>",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """One RFC 5322 message as an MTA would deliver it."""
    lines = [
        f"From: {sender}",
        "To: Service Desk <desk@example.com>",
        f"Subject: {subject}",
        "Date: Tue, 01 Dec 2026 09:05:00 +0000",
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
    ]
    if message_id != "":  # "" sends a mail without one
        lines.append(f"Message-ID: {message_id or f'<{time.monotonic_ns()}@example.com>'}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()
