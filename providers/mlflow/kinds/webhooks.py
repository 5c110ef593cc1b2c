"""Registry webhooks (`webhook`): read all (MLflow lists them, no search), write in place by id.

A create is not idempotent: its answer lost, the webhooks are listed again and one with the name
is adopted (then brought to the declared values); only when none is there is it sent again. The
secret travels only in the create or update request (`change.secrets`), never anywhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.webhook import LiveWebhook, WebhookFacts, WebhookRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow.endpoints import API, as_json, done, page
from mlreg.providers.mlflow.transport import Call, Created, MlflowApiError

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow


def _events(body: dict) -> list[str]:
    return [f"{e['entity'].lower()}.{e['action'].lower()}" for e in body.get("events", ())]


def _update(c, b: dict):
    fields = {k: v for k, v in b.items() if k != "webhook_id"}
    if "events" in fields:
        fields["events"] = _events(fields)
    if "status" in fields:
        fields["status"] = fields["status"].upper()
    return {"webhook": as_json(c.update_webhook(b["webhook_id"], **fields))}


LIST = Call(
    "GET",
    f"{API}/webhooks",
    capability="webhooks",
    local=lambda c, b: page(c.list_webhooks(max_results=b["max_results"], page_token=b.get("page_token")), "webhooks"),
)
CREATE = Call(
    "POST",
    f"{API}/webhooks",
    capability="webhooks",
    idempotent=False,
    local=lambda c, b: {
        "webhook": as_json(
            c.create_webhook(
                name=b["name"],
                url=b["url"],
                events=_events(b),
                description=b.get("description"),
                secret=b.get("secret"),
                status=b.get("status"),
            )
        )
    },
)
UPDATE = Call("PATCH", f"{API}/webhooks/{{webhook_id}}", capability="webhooks", local=_update)
DELETE = Call(
    "DELETE",
    f"{API}/webhooks/{{webhook_id}}",
    capability="webhooks",
    absent_ok=True,
    local=lambda c, b: done(c.delete_webhook(b["webhook_id"])),
)


def _event(name: str) -> dict:
    entity, action = name.split(".")
    return {"entity": entity.upper(), "action": action.upper()}


def webhook_of(d: dict) -> LiveWebhook:
    last = d.get("last_updated_timestamp")
    return LiveWebhook(
        id=d["webhook_id"],
        name=d.get("name", ""),
        url=d.get("url", ""),
        events=tuple(_events(d)),
        description=d.get("description", ""),
        status=d.get("status", "ACTIVE").lower(),
        last_updated=int(last) if last is not None else None,
    )


def _list(mf: Mlflow) -> list[LiveWebhook]:
    return [webhook_of(w) for w in mf.api.pages(LIST, {"max_results": 1000}, "webhooks")]


@DISPATCH.reads(WebhookRequest)
def read(mf: Mlflow, request: WebhookRequest) -> WebhookFacts:
    if not mf.api.exists():
        return WebhookFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    if not request.names:
        return WebhookFacts()
    found: dict = {}
    for w in _list(mf):
        if w.name in request.names:
            found.setdefault(w.name, []).append(w)
    return WebhookFacts(found)


@DISPATCH.lists("webhook")
def names(mf: Mlflow) -> list[str]:
    return sorted({w.name for w in _list(mf)})


PRIVATE_REFUSED = "must not resolve to a non-public IP address"


@DISPATCH.writes("webhook")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    try:
        return WriteResult(_write(mf, request.change))
    except MlflowApiError as e:
        if PRIVATE_REFUSED not in str(e):
            raise
        raise MlflowApiError(
            f"{e} (the MLflow server refuses webhooks to private and loopback addresses; a server for tests "
            "or demos allows them with MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true in its environment)",
            e.error_code,
            e.status,
        ) from e


def _write(mf: Mlflow, change: Change) -> dict:
    name = change.identity["name"]
    if change.action is Action.DELETE:
        mf.api.call(DELETE, {"webhook_id": change.identity["id"]})
        return dict(change.identity)
    after = dict(change.after or {})
    secret = change.secrets.get("secret")
    if change.before is None:
        made = _create(mf, name, after, secret, change.secrets.get("url"))
        if made.answer is not None:
            return {"name": name, "id": webhook_of(made.answer["webhook"]).id}
        before, webhook_id = {}, made.found  # made by an attempt whose answer was lost: converge it below
    else:
        before, webhook_id = dict(change.before), change.identity["id"]
    fields = {
        k: after[k] for k in ("url", "events", "description", "status") if k in after and before.get(k) != after[k]
    }
    if "url" in fields and "url" in change.secrets:  # a secret URL: `after` holds its hash
        fields["url"] = change.secrets["url"]
    if after.get("secret") != before.get("secret"):
        fields["secret"] = secret or ""  # a secret taken out of the file is cleared
    if fields:
        if "events" in fields:
            fields["events"] = [_event(e) for e in fields["events"]]
        if "status" in fields:
            fields["status"] = fields["status"].upper()
        mf.api.call(UPDATE, {"webhook_id": webhook_id, **fields})
    return {"name": name, "id": webhook_id}


def _create(mf: Mlflow, name: str, after: dict, secret: str | None, url: str | None = None) -> Created:
    """The create, sent once: its answer, or the id of the webhook an attempt whose answer was
    lost made after all (found by name)."""
    body = {
        "name": name,
        "url": url or after["url"],
        "events": [_event(e) for e in after["events"]],
        "status": after["status"].upper(),
    }
    if after.get("description") is not None:
        body["description"] = after["description"]
    if secret:
        body["secret"] = secret
    return mf.api.create_once(CREATE, body, lambda: _by_name(mf, name))


def _by_name(mf: Mlflow, name: str) -> str | None:
    found = [w.id for w in _list(mf) if w.name == name]
    return found[0] if found else None
