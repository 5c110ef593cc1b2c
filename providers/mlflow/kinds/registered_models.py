"""Registered models and their versions (`model`, `model_version`): read in bulk by the
registry's shared reads, written attribute by attribute.

Registering a version is the one write that is not idempotent (two calls make two versions), so
it is never retried blindly: the create carries the apply's id as the tag `mlreg.apply_id`; when
its answer is lost (connection dropped, timeout, 5xx), the versions of the model are read again
and the one this apply made is adopted (registry_writes.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlreg.planner.changes import Change
from mlreg.planner.kinds.base import Phase
from mlreg.planner.kinds.mlflow_facts import RegistryFacts, RegistryRequest
from mlreg.providers.mlflow import DISPATCH

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow


@DISPATCH.reads(RegistryRequest)
def read(mf: Mlflow, request: RegistryRequest) -> RegistryFacts:
    return mf.reads.read(request)


@DISPATCH.writes("model")
def write_model(mf: Mlflow, change: Change, phase: Phase, resolved: Mapping[str, Any], apply_id: str) -> dict:
    return mf.writes.model(change, phase, resolved)


@DISPATCH.writes("model_version")
def write_version(mf: Mlflow, change: Change, phase: Phase, resolved: Mapping[str, Any], apply_id: str) -> dict:
    return mf.writes.version(change, phase, resolved, apply_id)


@DISPATCH.lists("model")
def names(mf: Mlflow) -> list[str]:
    return mf.reads.list_model_names()
