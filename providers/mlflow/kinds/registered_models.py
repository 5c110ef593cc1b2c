"""Registered models and their versions (`model`, `model_version`): read in bulk by the
registry's shared reads, written attribute by attribute.

Registering a version is the one write that is not idempotent (two calls make two versions), so
it is never retried blindly: the create carries the apply's id as the tag `mlreg.apply_id`; when
its answer is lost (connection dropped, timeout, 5xx), the versions of the model are read again
and the one this apply made is adopted (registry_writes.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.kinds.mlflow_facts import RegistryFacts, RegistryRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow


@DISPATCH.reads(RegistryRequest)
def read(mf: Mlflow, request: RegistryRequest) -> RegistryFacts:
    return mf.reads.read(request)


@DISPATCH.writes("model")
def write_model(mf: Mlflow, request: WriteRequest) -> WriteResult:
    return mf.writes.model(request)


@DISPATCH.writes("model_version")
def write_version(mf: Mlflow, request: WriteRequest) -> WriteResult:
    return mf.writes.version(request)


@DISPATCH.lists("model")
def names(mf: Mlflow) -> list[str]:
    return mf.reads.list_model_names()
