"""`webhook`: webhooks in memory by id, their reads, the case file's webhook facts, the write
(in place, keeping the id) and the sample."""

from __future__ import annotations

import itertools

from mlreg.planner.changes import Action
from mlreg.planner.kinds.webhook import LiveWebhook, WebhookFacts, WebhookRequest
from tests.unit.kinds import KindDouble


def store(world) -> None:
    world.webhooks = {}  # id -> {name, url, events, description, status}
    world.webhook_ids = itertools.count(1)


def read(world, r: WebhookRequest) -> WebhookFacts:
    found: dict = {}
    for wid, w in world.webhooks.items():
        if w["name"] in r.names:
            found.setdefault(w["name"], []).append(
                LiveWebhook(wid, w["name"], w["url"], tuple(w["events"]), w["description"], w["status"])
            )
    return WebhookFacts(found)


def write(world, request) -> dict:
    change, after = request.change, request.after()
    name = change.identity["name"]
    if change.action is Action.DELETE:
        world.webhooks.pop(change.identity["id"], None)
        return dict(change.identity)
    wid = change.identity.get("id") or f"wh-{next(world.webhook_ids)}"
    w = world.webhooks.setdefault(wid, {"name": name, "description": ""})
    w.update({k: after[k] for k in ("url", "events", "status", "description") if k in after})
    return {"name": name, "id": wid}


def facts(data: dict) -> dict:
    """webhooks: [{id, name, url, events, description, status}]."""
    out: dict[str, list[LiveWebhook]] = {}
    for w in data.get("webhooks", []):
        out.setdefault(w["name"], []).append(
            LiveWebhook(
                w["id"], w["name"], w["url"], tuple(w["events"]), w.get("description", ""), w.get("status", "active")
            )
        )
    return {WebhookFacts: WebhookFacts(out)}


DOUBLE = KindDouble(
    type="webhook",
    provider="mlreg/mlflow",
    sample=(
        "webhooks:\n  hook:\n    url: https://h.example/x\n    events: [model_version.created]\n"
        "    secret: ${HOOK_SECRET}\n"
    ),
    setup={"env": {"HOOK_SECRET": "s3cret-value"}},
    store=store,
    write=write,
    reads={WebhookRequest: read},
    facts=facts,
    names=lambda world: sorted({w["name"] for w in world.webhooks.values()}),
)
