"""A random secret kept in a file that only its owner can read, generated the first time.

``make run`` (and settings with ``DEBUG=true``) use it for ``SECRET_KEY`` when the environment
sets none, so a fresh checkout starts without a key anybody else knows. Run as a script
(``python config/keyfile.py PATH``) it makes sure PATH exists; the settings import ``ensure``.
Kept free of Django so the Makefile can run it before any setting is read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path

# 64 bytes of entropy: well over the 32 bytes HS256 wants (RFC 7518, 3.2) and Django's 50 chars.
KEY_BYTES = 64


def ensure(path: Path) -> str:
    """The key in ``path``; the file is created (mode 600) with a new random key if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written to a private temporary file (mode 600 from its creation), then linked into
        # place: link() fails if the name exists, so of two processes starting at once exactly
        # one key wins, and nobody ever reads a half-written file.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to have a new key generated")
    return key


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python config/keyfile.py PATH")
    ensure(Path(sys.argv[1]))
