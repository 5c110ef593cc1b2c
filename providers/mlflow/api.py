"""What the MLflow provider needs from a registry, as one interface with two transports:
`rest.RestApi` for `http(s)://` tracking servers (plain REST, mlreg's own timeouts and retries)
and `local.LocalApi` for everything else (the embedded `sqlite:///` default: MLflow's store
in-process). Both return the engine's live types and raise `MlflowApiError` with MLflow's error
code, so the logic above them is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mlreg.planner.errors import BackendError
from mlreg.planner.kinds.registry import LiveModel, LiveRun, LiveVersion


class MlflowApiError(BackendError):
    """MLflow answered and refused: `error_code` is MLflow's (RESOURCE_ALREADY_EXISTS, …)."""

    def __init__(self, message: str, error_code: str = "", status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    artifact_uri: str
    model_steps: dict[str, int]  # logged model id -> step, from the run's outputs


class RegistryApi(Protocol):
    target: str  # what it talks to, for people (password masked)

    # reads (all idempotent; paged to the end)
    def search_models(self, flt: str | None) -> list[LiveModel]: ...
    def search_versions(self, flt: str | None) -> list[LiveVersion]: ...
    def search_experiments(self) -> dict[str, str]: ...
    def search_runs(self, experiment_ids: list[str], flt: str, names: dict[str, str]) -> list[LiveRun]: ...
    def search_logged_models(self, experiment_ids: list[str]) -> list[tuple[str, str, str]]: ...
    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]: ...
    def get_run(self, run_id: str) -> RunInfo: ...

    # writes: idempotent ones are retried within the backend timeout; creates never blindly
    def create_model(self, name: str, tags: dict[str, str], description: str | None) -> None: ...
    def update_model(self, name: str, description: str) -> None: ...
    def set_model_tag(self, name: str, key: str, value: str) -> None: ...
    def delete_model_tag(self, name: str, key: str) -> None: ...
    def set_alias(self, name: str, alias: str, version: str) -> None: ...
    def delete_alias(self, name: str, alias: str) -> None: ...
    def delete_model(self, name: str) -> None: ...
    def create_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, str],
        description: str | None,
        model_id: str | None,
    ) -> LiveVersion: ...
    def update_version(self, name: str, version: str, description: str) -> None: ...
    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None: ...
    def delete_version_tag(self, name: str, version: str, key: str) -> None: ...
    def delete_version(self, name: str, version: str) -> None: ...
