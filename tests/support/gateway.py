"""Making AI Gateway objects by hand on a real `mlflow server`, as a user or MLflow's UI would,
through plain REST: for tests of guardrails (a registered scorer), drift (something changed
outside mlreg) and import (something mlreg did not make).

Nothing here calls an LLM provider: registering a scorer stores its serialized form only, and the
gateway stores secrets, model definitions and endpoints without contacting the provider.
"""

from __future__ import annotations

import json

import requests

from mlreg.providers.mlflow.gateway_api import route_configs, routing_fields

GATEWAY = "/api/3.0/mlflow/gateway"


def judge(name: str, instructions: str, model: str = "openai:/gpt-4o-mini") -> str:
    """A serialized LLM judge, the shape `mlflow.genai.judges.make_judge(...).register()` stores,
    without importing MLflow's GenAI stack (registering it calls no model)."""
    return json.dumps(
        {
            "name": name,
            "mlflow_version": "3.17",
            "serialization_version": 1,
            "instructions_judge_pydantic_data": {"instructions": instructions, "model": model},
        }
    )


class ByHand:
    """REST calls to one server (optionally in a workspace, optionally as a basic-auth user)."""

    def __init__(self, base_url: str, workspace: str | None = None, auth: tuple[str, str] | None = None):
        self.base = base_url.rstrip("/")
        self.headers = {"X-MLFLOW-WORKSPACE": workspace} if workspace else {}
        self.auth = auth

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """MLflow's answer; anything but 200 is an AssertionError carrying MLflow's message."""
        url = self.base + (path if path.startswith("/api/") else f"{GATEWAY}/{path}")
        kw = {"params": body} if method == "GET" else {"json": body or {}}
        r = requests.request(method, url, headers=self.headers, auth=self.auth, timeout=30, **kw)
        if r.status_code != 200:
            raise AssertionError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else {}

    def experiment(self, name: str) -> str:
        """The id of the experiment of that name, made if missing."""
        r = requests.get(
            f"{self.base}/api/2.0/mlflow/experiments/get-by-name",
            params={"experiment_name": name},
            headers=self.headers,
            auth=self.auth,
            timeout=30,
        )
        if r.status_code == 200:
            return r.json()["experiment"]["experiment_id"]
        return self.call("POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]

    def register_scorer(self, experiment: str, name: str, instructions: str = "Is {{ outputs }} safe?") -> dict:
        """Registers an LLM judge as a scorer of the experiment (by name, made if missing): a new
        version each call. Answers MLflow's register response: scorer_id, version, experiment_id."""
        exp = self.experiment(experiment)
        body = {"experiment_id": exp, "name": name, "serialized_scorer": judge(name, instructions)}
        return self.call("POST", "/api/3.0/mlflow/scorers/register", body)

    def secret(self, name: str, values: dict[str, str], provider: str | None = "openai") -> dict:
        body = {"secret_name": name, "secret_value": values, **({"provider": provider} if provider else {})}
        return self.call("POST", "secrets/create", body)["secret"]

    def model(self, name: str, secret_id: str, provider: str = "openai", model_name: str = "gpt-4o") -> dict:
        body = {"name": name, "secret_id": secret_id, "provider": provider, "model_name": model_name}
        return self.call("POST", "model-definitions/create", body)["model_definition"]

    def endpoint(
        self,
        name: str,
        routes: dict[str, float],
        fallback: list[str] = (),
        tags: dict[str, str] | None = None,
        usage_tracking: bool = True,
    ) -> dict:
        """An endpoint as MLflow's UI makes it: `routes` maps model definition ids to percent,
        `fallback` lists model definition ids in order. Answers the endpoint as read back."""
        ids = {k: k for k in [*routes, *fallback]}
        body = {
            "name": name,
            "model_configs": route_configs(dict(routes), list(fallback), ids),
            "usage_tracking": usage_tracking,
            **routing_fields(dict(routes), list(fallback)),
        }
        endpoint_id = self.call("POST", "endpoints/create", body)["endpoint"]["endpoint_id"]
        for key, value in (tags or {}).items():
            self.call("POST", "endpoints/set-tag", {"endpoint_id": endpoint_id, "key": key, "value": value})
        return self.call("GET", "endpoints/get", {"endpoint_id": endpoint_id})["endpoint"]
