"""The early read: for a large registry file on an `http(s)://` server, start reading what it
names before the file is validated (or the engine even imported), so the server works meanwhile.
Light on purpose: it imports no pydantic. What to read comes from the catalog, the provider from
the wiring. A hint only: the plan drops it if the validated file names another server, and reads
whatever it missed."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from mlreg.planner.live import Reads


class EarlyRead:
    """A read running in a daemon thread (if the file turns out invalid, nobody waits for it)."""

    def __init__(self, tracking_uri: str, provider, reads: Reads):
        self.tracking_uri = tracking_uri
        self.provider = provider
        self.reads = reads
        self._done = threading.Event()
        self._result: dict[type, Any] = {}
        self._error: BaseException | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            self._result = self.provider.read(list(self.reads))
        except BaseException as e:
            self._error = e
        finally:
            self._done.set()

    def result(self) -> dict[type, Any]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result


def start(file: str, provider_for) -> EarlyRead | None:
    """`provider_for(tracking_uri)` builds the provider that reads (the wiring's), or None when
    that server may not be read."""
    from mlreg.planner.config import guard
    from mlreg.planner.config.glance import glance
    from mlreg.planner.kinds.catalog import named_reads

    path = Path(file)
    if path.is_dir():
        return None
    data = guard.read_bounded(path)  # the loader's limits: a regular file, never more than the cap
    if not isinstance(data, bytes):
        return None
    text = data.decode("utf-8", errors="replace")
    seen = glance(text, dict(os.environ))
    from mlreg.planner import urls

    if seen is None or urls.family(seen.tracking_uri) not in ("http", "https"):
        return None
    reads = named_reads(seen.names)
    provider = provider_for(seen.tracking_uri) if reads else None
    return EarlyRead(seen.tracking_uri, provider, reads) if provider is not None else None
