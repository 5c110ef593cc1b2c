"""The early read: for a large registry file on an `http(s)://` server, start reading the models it
names before the file is validated (or the engine even imported), so the server works meanwhile.
Light on purpose: it imports no pydantic. A hint only: the plan drops it if the validated file
names another server, and reads whatever it missed."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


class EarlyRead:
    def __init__(self, tracking_uri: str, names: frozenset[str], backend_timeout: float | None):
        from mlreg.planner.kinds.registry import RegistryRequest
        from mlreg.providers.mlflow.reader import Reader
        from mlreg.providers.mlflow.rest import RestApi
        from mlreg.providers.patience import Patience

        self.tracking_uri = tracking_uri
        self.api = RestApi(tracking_uri)
        self.api.patience = Patience(
            self.api.target, backend_timeout, "; check the server, then run `mlreg plan` again"
        )
        self.reader = Reader(self.api)
        self.request = RegistryRequest(model_names=names)
        import requests.adapters  # noqa: F401 - imported here, not in the thread, which should only wait

        self._done = threading.Event()
        self._result: dict[type, Any] = {}
        self._error: BaseException | None = None
        # a daemon: if the file turns out invalid, the process does not wait for this read
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            self._result = {type(self.request).facts: self.reader.read(self.request)}
        except BaseException as e:
            self._error = e
        finally:
            self._done.set()

    def result(self) -> dict[type, Any]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result


def start(file: str, backend_timeout: float | None = None) -> EarlyRead | None:
    from mlreg.planner.config.glance import glance

    try:
        text = Path(file).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    seen = glance(text, dict(os.environ))
    if seen is None or not seen.tracking_uri.startswith(("http://", "https://")):
        return None
    return EarlyRead(seen.tracking_uri, seen.model_names, backend_timeout)
