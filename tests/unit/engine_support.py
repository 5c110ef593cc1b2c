"""Build plans from plain data: desired YAML + live facts + recorded state (pyinfra-style)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from mlreg.planner.config.load import load_config
from mlreg.planner.kinds.access_facts import AccessFacts, LivePermission, LiveRole, LiveUser
from mlreg.planner.kinds.mlflow_facts import LiveModel, LiveRun, LiveVersion, RegistryFacts
from mlreg.planner.kinds.policy_version import LivePolicyVersion, LiveVariant, PolicyFacts
from mlreg.planner.kinds.prompt import LivePrompt, LivePromptVersion, PromptFacts
from mlreg.planner.kinds.webhook import LiveWebhook, WebhookFacts
from mlreg.planner.kinds.workspace import LiveWorkspace, WorkspaceFacts
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.plan import build_plan
from mlreg.planner.recorded import StateSnapshot

RUN_DEFAULTS = {
    "params": {
        p: "1" for p in ("learning_rate", "batch_size", "epochs", "dataset_version", "model_base", "fine_tuning_method")
    },
    "metrics": {"train_loss": 0.4, "val_loss": 0.5, "plan_alignment_score": 0.9, "constraint_respect_score": 1.0},
    "tags": {"policy_id": "p", "task": "planner", "dataset_version": "d"},
}


def live_from(data: dict) -> LiveSnapshot:
    data = data or {}
    runs = {}
    by_name: dict = {}
    for r in data.get("runs", []):
        run = LiveRun(
            run_id=r["run_id"],
            experiment_id="1",
            experiment_name=r.get("experiment", "exp"),
            run_name=r.get("name", r["run_id"]),
            params={**RUN_DEFAULTS["params"], **r.get("params", {})},
            metrics={**RUN_DEFAULTS["metrics"], **r.get("metrics", {})},
            tags={**RUN_DEFAULTS["tags"], **r.get("tags", {})},
            artifacts=tuple(r.get("artifacts", ["model"])),
            logged_models=(),
        )
        for k in r.get("drop", []):
            for d in (run.params, run.metrics, run.tags):
                d.pop(k, None)
        runs[run.run_id] = run
        by_name.setdefault((run.experiment_name, run.run_name), []).append(run)
    models = {
        n: LiveModel(
            name=n,
            description=m.get("description", ""),
            tags=m.get("tags", {}),
            aliases={a: str(v) for a, v in m.get("aliases", {}).items()},
        )
        for n, m in data.get("models", {}).items()
    }
    versions = {}
    for n, vs in data.get("versions", {}).items():
        versions[n] = [
            LiveVersion(
                name=n,
                version=str(v["version"]),
                source=v.get("source", ""),
                run_id=v.get("run_id"),
                description=v.get("description", ""),
                tags=v.get("tags", {}),
                model_id=v.get("model_id"),
            )
            for v in vs
        ]
    pvs = {
        (p["policy_id"], p["version"]): LivePolicyVersion(
            id=p.get("id", f"row-{p['version']}"),
            policy_id=p["policy_id"],
            version=p["version"],
            model_name=p["model"],
            model_version=str(p["model_version"]),
            config_defaults=p.get("config_defaults", {}),
        )
        for p in data.get("policy_versions", [])
    }
    variants = [LiveVariant(id=v["id"], policy_version_id=v["policy_version_id"]) for v in data.get("variants", [])]
    return LiveSnapshot(
        {
            RegistryFacts: RegistryFacts(
                models=models,
                versions=versions,
                runs=runs,
                runs_by_name=by_name,
                logged_model_names=data.get("logged_models", {}),
                prompt_names=frozenset(data.get("prompt_names", [])),
            ),
            PolicyFacts: PolicyFacts(policy_versions=pvs, variants=variants),
            PromptFacts: _prompts(data),
            WebhookFacts: WebhookFacts(_webhooks(data.get("webhooks", []))),
            WorkspaceFacts: WorkspaceFacts(
                {n: LiveWorkspace(n, d or "") for n, d in data.get("workspaces", {}).items()}
            ),
            AccessFacts: _access(data),
        }
    )


def _access(data: dict) -> AccessFacts:
    """users: {name: {id, admin}}; roles: {name: {id, description, permissions: [[id, type,
    pattern, permission]], members: [names]}}; current: {name, admin}; names: {type: [names]}."""
    roles = {
        n: LiveRole(
            r["id"],
            n,
            "default",
            r.get("description", ""),
            tuple(LivePermission(*p) for p in r.get("permissions", [])),
            frozenset(r.get("members", [])),
        )
        for n, r in data.get("roles", {}).items()
    }
    current = data.get("current") or {}
    return AccessFacts(
        workspace="default",
        users={
            n: LiveUser(u.get("id", i + 1), n, u.get("admin", False))
            for i, (n, u) in enumerate(data.get("users", {}).items())
        },
        roles=roles,
        current=current.get("name"),
        current_admin=current.get("admin", False),
        names={t: frozenset(v) for t, v in data.get("names", {}).items()},
    )


def _prompts(data: dict) -> PromptFacts:
    prompts = {
        n: LivePrompt(n, p.get("tags", {}), {a: str(v) for a, v in p.get("aliases", {}).items()})
        for n, p in data.get("prompts", {}).items()
    }
    versions = {
        n: [
            LivePromptVersion(n, str(v["version"]), v.get("template"), v.get("tags", {}), v.get("commit_message", ""))
            for v in vs
        ]
        for n, vs in data.get("prompt_versions", {}).items()
    }
    return PromptFacts(prompts, versions, frozenset(data.get("registered_models", [])))


def _webhooks(items: list[dict]) -> dict[str, list[LiveWebhook]]:
    out: dict[str, list[LiveWebhook]] = {}
    for w in items:
        out.setdefault(w["name"], []).append(
            LiveWebhook(
                w["id"], w["name"], w["url"], tuple(w["events"]), w.get("description", ""), w.get("status", "active")
            )
        )
    return out


def state_from(data: dict | None) -> StateSnapshot:
    if not data:
        return StateSnapshot(lineage="l", serial=1, resources={})
    return StateSnapshot.from_json({"lineage": "l", "serial": 1, "resources": data})


def plan_for(
    tmp_path: Path,
    desired: str,
    live: dict | None = None,
    state: dict | None = None,
    targets=(),
    env: dict | None = None,
):
    text = "version: 1\n" + textwrap.dedent(desired)
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    loaded, diags = load_config(path, env=env or {})
    assert not diags, [d.summary for d in diags]
    return build_plan(loaded, state_from(state), live_from(live), targets=targets)


def load_case(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
