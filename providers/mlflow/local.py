"""The in-process transport for tracking URIs that are not `http(s)://` (the embedded
`sqlite:///mlflow.db` default, `databricks`, …): each endpoint's local form, run on MLflow's own
client and stores.

Read-only commands never create or migrate anything: they open an SQLite store read-only (any
driver suffix, `mode=ro`), and one that does not exist yet is an empty registry (`exists()` is
False) until an apply writes to it.
"""

from __future__ import annotations

from pathlib import Path

from mlreg.planner import redact
from mlreg.planner.errors import BackendError
from mlreg.providers.mlflow.transport import Endpoint, MlflowApiError, Transport
from mlreg.providers.sqlite import read_only_url, sqlite_path


class LocalTransport(Transport):
    capabilities = frozenset({"registry", "webhooks"})
    concurrent_reads = False

    def __init__(self, tracking_uri: str, read_only: bool = False):
        self.uri = tracking_uri
        self.read_only = read_only
        self.target = f"MLflow store {redact.url(tracking_uri)}"
        self._client = None

    def exists(self) -> bool:
        path = sqlite_path(self.uri)
        return path is None or Path(path).exists()

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            uri = read_only_url(self.uri) if self.read_only and sqlite_path(self.uri) else self.uri
            try:
                self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            except Exception as e:  # MLflow builds its stores lazily; a bad URI fails here or on first use
                raise BackendError(f"Cannot use {self.target}: {redact.redact(str(e).splitlines()[0])}") from None
        return self._client

    def _send(self, endpoint: Endpoint, body: dict) -> dict:
        from mlflow.exceptions import MlflowException

        if endpoint.local is None:
            raise BackendError(f"{self.target} has no in-process form of {endpoint.method} {endpoint.path}")
        try:
            return endpoint.local(self.client, body)
        except MlflowException as e:
            raise MlflowApiError(
                redact.redact(f"{self.target} refused {endpoint.method} {endpoint.path}: {e.message}"), e.error_code
            ) from None
        except Exception as e:
            if self.read_only and "readonly" in str(e).lower().replace(" ", ""):
                raise BackendError(
                    f"{self.target} is not an MLflow store this version of MLflow can read without changing it "
                    "(plan opens it read-only)"
                ) from None
            raise
