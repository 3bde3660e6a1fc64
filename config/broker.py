"""kombu's filesystem transport (the broker of `make run`), made safe for a busy worker.

kombu creates a message file under its final name and only then writes it; a worker listing the
folder in between takes the empty file, fails to decode it and dies ("Unrecoverable error:
JSONDecodeError", celery/kombu#1551). Under `make run`'s load that happened within a minute once
the worker polled every 0.1 s. Here a message is written under a name consumers ignore and then
renamed, which is atomic within a folder; and an unreadable message (left by a producer that
died half-way, or by an older version) is logged and skipped instead of stopping the worker.

Selected by ``CELERY_BROKER_TRANSPORT`` in the settings when the broker is ``filesystem://``.
"""

from __future__ import annotations

import logging
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)

# kombu reads only names ending in ".<queue>.msg"; this suffix keeps a file out of its sight
# until it is complete.
PARTIAL = ".part"


class Channel(filesystem.Channel):
    # kombu's own signature (which already differs from its AbstractChannel's).
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        while True:  # each failed round has removed the unreadable file: this ends
            try:
                return super()._get(queue)
            except ValueError as exc:  # json.JSONDecodeError
                logger.error("dropped an unreadable message of queue %s: %s", queue, exc)


class Transport(filesystem.Transport):
    Channel = Channel
