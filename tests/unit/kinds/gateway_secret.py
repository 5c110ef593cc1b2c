"""`gateway_secret`: secrets in memory by id (only their masked form is kept, as MLflow shows
them), their reads, the case file's `gateway_secrets` facts, the write (in place, keeping the id)
and the sample."""

from __future__ import annotations

import itertools
import json

from mlreg.planner.changes import Action
from mlreg.planner.kinds.gateway_facts import LiveSecret, mask_secret
from mlreg.planner.kinds.gateway_secret import SecretFacts, SecretRequest
from tests.unit.kinds import KindDouble


def store(world) -> None:
    world.gateway_secrets = {}  # id -> LiveSecret
    world.gateway_secret_ids = itertools.count(1)


def read(world, r: SecretRequest) -> SecretFacts:
    return SecretFacts({s.name: s for s in world.gateway_secrets.values() if s.name in r.names})


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.gateway_secrets.pop(change.identity["id"], None)
        return dict(change.identity)
    sid = change.identity.get("id") or f"s-{next(world.gateway_secret_ids)}"
    masked = mask_secret(json.loads(change.secrets["value"]))
    world.gateway_secrets[sid] = LiveSecret(sid, name, masked, after.get("provider"), after.get("auth_config") or {})
    return {"name": name, "id": sid}


def facts(data: dict) -> dict:
    """gateway_secrets: [{id, name, masked: {key: masked value}, provider, auth_config}]."""
    out = {
        s["name"]: LiveSecret(s["id"], s["name"], s["masked"], s.get("provider"), s.get("auth_config") or {})
        for s in data.get("gateway_secrets", [])
    }
    return {SecretFacts: SecretFacts(out)}


DOUBLE = KindDouble(
    type="gateway_secret",
    provider="mlreg/mlflow",
    sample='gateway:\n  secrets:\n    openai_prod:\n      provider: openai\n      value: {api_key: "${OPENAI_KEY}"}\n',
    setup={"env": {"OPENAI_KEY": "sk-proj-abcdefghijklmnop1234"}},
    store=store,
    write=write,
    reads={SecretRequest: read},
    facts=facts,
    names=lambda world: sorted(s.name for s in world.gateway_secrets.values()),
)
