"""Calls to the MLflow Model Registry's endpoints that several kinds use (registered models,
versions, runs, experiments, artifacts, logged models), each defined once with its in-process
form, and the decoders from MLflow's JSON to the engine's live types. Calls only one kind makes
live in that kind's module.
"""

from __future__ import annotations

import json
from typing import Any

from mlreg.planner.kinds.mlflow_facts import LiveModel, LiveRun, LiveVersion
from mlreg.providers.mlflow.transport import Call

API = "/api/2.0/mlflow"


# --- answering as REST does, from MLflow's entities --------------------------------------------------


def as_json(entity) -> dict:
    """An MLflow entity as its REST JSON (the server encodes the same proto the same way)."""
    from mlflow.utils.proto_json_utils import message_to_json

    return json.loads(message_to_json(entity.to_proto(), pretty=False))


def page(paged, key: str) -> dict:
    return {key: [as_json(e) for e in paged], "next_page_token": getattr(paged, "token", None)}


def registry(client):
    """MlflowClient's registry client. MlflowClient's public write methods refuse names that are
    prompts, and read the registered model before each write: no public call writes a prompt as
    the registered model MLflow keeps it as, so registered-model writes go through this one."""
    return client._get_registry_client()


def done(_answer) -> dict:
    """What REST answers to a write that returns nothing to read."""
    return {}


def tags(items) -> list[dict]:
    return [{"key": k, "value": v} for k, v in items.items()]


def _dict(items) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or ()}


# --- endpoints -------------------------------------------------------------------------------------

SEARCH_MODELS = Call(
    "GET",
    f"{API}/registered-models/search",
    local=lambda c, b: page(
        c.search_registered_models(
            filter_string=b.get("filter"), max_results=b["max_results"], page_token=b.get("page_token")
        ),
        "registered_models",
    ),
)
SEARCH_VERSIONS = Call(
    "GET",
    f"{API}/model-versions/search",
    local=lambda c, b: page(
        c.search_model_versions(
            filter_string=b.get("filter"),
            max_results=b["max_results"],
            order_by=b.get("order_by"),
            page_token=b.get("page_token"),
        ),
        "model_versions",
    ),
)
SEARCH_EXPERIMENTS = Call(
    "POST",
    f"{API}/experiments/search",
    local=lambda c, b: page(
        c.search_experiments(max_results=b["max_results"], page_token=b.get("page_token")), "experiments"
    ),
)
SEARCH_RUNS = Call(
    "POST",
    f"{API}/runs/search",
    local=lambda c, b: page(
        c.search_runs(
            experiment_ids=b["experiment_ids"],
            filter_string=b.get("filter") or "",
            max_results=b["max_results"],
            page_token=b.get("page_token"),
        ),
        "runs",
    ),
)
SEARCH_LOGGED_MODELS = Call(
    "POST",
    f"{API}/logged-models/search",
    local=lambda c, b: page(
        c.search_logged_models(
            experiment_ids=b["experiment_ids"], max_results=b["max_results"], page_token=b.get("page_token")
        ),
        "models",
    ),
)


def _local_listing(c, b) -> dict:
    """A run's artifacts, in-process, only where they are files on this machine. Elsewhere
    (s3://, http://, …) MLflow's artifact clients would make requests with whatever credentials
    this process has, to wherever the run's artifact location says, which anyone who can write
    to the store chooses: `files` is then None (not read)."""
    from urllib.parse import urlsplit

    root = c.get_run(b["run_id"]).info.artifact_uri or ""
    if urlsplit(root).scheme not in ("", "file"):
        return {"files": None}
    return {"files": [as_json(f) for f in c.list_artifacts(b["run_id"], b.get("path"))]}


LIST_ARTIFACTS = Call("GET", f"{API}/artifacts/list", local=_local_listing)
GET_RUN = Call("GET", f"{API}/runs/get", local=lambda c, b: {"run": as_json(c.get_run(b["run_id"]))})

CREATE_MODEL = Call(
    "POST",
    f"{API}/registered-models/create",
    idempotent=False,
    local=lambda c, b: {
        "registered_model": as_json(
            registry(c).create_registered_model(
                b["name"], tags=_dict(b.get("tags")) or None, description=b.get("description")
            )
        )
    },
)
UPDATE_MODEL = Call(
    "PATCH",
    f"{API}/registered-models/update",
    local=lambda c, b: {"registered_model": as_json(registry(c).update_registered_model(b["name"], b["description"]))},
)
SET_MODEL_TAG = Call(
    "POST",
    f"{API}/registered-models/set-tag",
    local=lambda c, b: done(registry(c).set_registered_model_tag(b["name"], b["key"], b["value"])),
)
DELETE_MODEL_TAG = Call(
    "DELETE",
    f"{API}/registered-models/delete-tag",
    absent_ok=True,
    local=lambda c, b: done(registry(c).delete_registered_model_tag(b["name"], b["key"])),
)
SET_ALIAS = Call(
    "POST",
    f"{API}/registered-models/alias",
    local=lambda c, b: done(registry(c).set_registered_model_alias(b["name"], b["alias"], str(b["version"]))),
)
DELETE_ALIAS = Call(
    "DELETE",
    f"{API}/registered-models/alias",
    absent_ok=True,
    local=lambda c, b: done(registry(c).delete_registered_model_alias(b["name"], b["alias"])),
)
DELETE_MODEL = Call(
    "DELETE",
    f"{API}/registered-models/delete",
    absent_ok=True,
    local=lambda c, b: done(registry(c).delete_registered_model(b["name"])),
)
CREATE_VERSION = Call(
    "POST",
    f"{API}/model-versions/create",
    idempotent=False,
    local=lambda c, b: {
        "model_version": as_json(
            registry(c).create_model_version(
                name=b["name"],
                source=b["source"],
                run_id=b.get("run_id"),
                tags=_dict(b.get("tags")) or None,
                description=b.get("description"),
                model_id=b.get("model_id"),
            )
        )
    },
)
UPDATE_VERSION = Call(
    "PATCH",
    f"{API}/model-versions/update",
    local=lambda c, b: done(registry(c).update_model_version(b["name"], str(b["version"]), b["description"])),
)
SET_VERSION_TAG = Call(
    "POST",
    f"{API}/model-versions/set-tag",
    local=lambda c, b: done(registry(c).set_model_version_tag(b["name"], str(b["version"]), b["key"], b["value"])),
)
DELETE_VERSION_TAG = Call(
    "DELETE",
    f"{API}/model-versions/delete-tag",
    absent_ok=True,
    local=lambda c, b: done(registry(c).delete_model_version_tag(b["name"], str(b["version"]), b["key"])),
)
DELETE_VERSION = Call(
    "DELETE",
    f"{API}/model-versions/delete",
    absent_ok=True,
    local=lambda c, b: done(registry(c).delete_model_version(b["name"], str(b["version"]))),
)


# --- decoders ---------------------------------------------------------------------------------------


def _int(v: Any) -> int | None:
    return int(v) if v is not None else None


def model_of(d: dict) -> LiveModel:
    return LiveModel(
        name=d["name"],
        description=d.get("description", ""),
        tags=_dict(d.get("tags")),
        aliases={a["alias"]: str(a["version"]) for a in d.get("aliases", ())},
        last_updated=_int(d.get("last_updated_timestamp")),
    )


def version_of(d: dict) -> LiveVersion:
    return LiveVersion(
        name=d["name"],
        version=str(d["version"]),
        source=d.get("source", ""),
        run_id=d.get("run_id") or None,
        description=d.get("description", ""),
        tags=_dict(d.get("tags")),
        model_id=d.get("model_id") or None,
        user_id=d.get("user_id") or None,
        created=_int(d.get("creation_timestamp")),
        last_updated=_int(d.get("last_updated_timestamp")),
    )


def run_of(r: dict, experiment_names: dict[str, str]) -> LiveRun:
    info, data = r.get("info", {}), r.get("data", {})
    return LiveRun(
        run_id=info["run_id"],
        experiment_id=info["experiment_id"],
        experiment_name=experiment_names.get(info["experiment_id"], ""),
        run_name=info.get("run_name", ""),
        params=_dict(data.get("params")),
        metrics={m["key"]: float(m["value"]) for m in data.get("metrics", ())},
        tags=_dict(data.get("tags")),
        user_id=info.get("user_id") or None,
    )
