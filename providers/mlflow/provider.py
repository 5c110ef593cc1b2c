"""The MLflow provider: answers read requests and applies changes by asking `DISPATCH` for the
reader or writer a per-kind module registered (`kinds/`); anything unregistered is an error,
never silently routed elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import Request
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow.registry_reads import RegistryReads
from mlreg.providers.mlflow.registry_writes import RegistryWrites
from mlreg.providers.mlflow.transport import Transport, WorkspaceMissing


@dataclass
class Mlflow:
    """What the per-kind modules are given: the transport and the registry's shared reads and
    writes over it."""

    api: Transport
    reads: RegistryReads
    writes: RegistryWrites


class MlflowProvider:
    name = PROVIDER

    def __init__(self, api: Transport):
        reads = RegistryReads(api)
        self.mlflow = Mlflow(api, reads, RegistryWrites(api, reads))

    @property
    def api(self) -> Transport:
        return self.mlflow.api

    def describe(self) -> str:
        return self.mlflow.api.target

    def read(self, requests: Sequence[Request]) -> dict[type, Any]:
        out = {}
        for r in requests:
            try:
                out[type(r).facts] = DISPATCH.reader(type(r))(self.mlflow, r)
            except WorkspaceMissing as e:  # nothing is inside a workspace that does not exist yet
                out[type(r).facts] = type(r).facts(note=str(e))
        return out

    def apply(self, request: WriteRequest) -> WriteResult:
        return DISPATCH.writer(request.change.type)(self.mlflow, request)

    def apply_batch(self, requests: Sequence[WriteRequest]) -> dict[str, WriteResult]:
        raise TypeError(f"{self.name} applies no batch kinds ({requests[0].change.type})")

    def names(self, type_: str) -> list[str]:
        """Every live name of a kind (for `mlreg import`)."""
        return DISPATCH.lister(type_)(self.mlflow)

    def kinds(self) -> set[str]:
        return DISPATCH.kinds()
