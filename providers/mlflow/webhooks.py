"""Registry webhooks: read all (MLflow lists them, no search), write in place by id.

A create is not idempotent: its answer lost, the webhooks are listed again and one with the name
is adopted (then brought to the declared values); only when none is there is it sent again. The
secret travels only in the create or update request (`change.secrets`), never anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlreg.planner.errors import AmbiguousWrite
from mlreg.planner.kinds.webhook import WebhookFacts, WebhookRequest
from mlreg.planner.model import Action, Change


class Webhooks:
    def __init__(self, api):
        self.api = api

    def read(self, request: WebhookRequest) -> WebhookFacts:
        if hasattr(self.api, "exists") and not self.api.exists():
            return WebhookFacts(note=f"{self.api.target} does not exist yet: apply creates it")
        if not request.names:
            return WebhookFacts()
        found: dict = {}
        for w in self.api.list_webhooks():
            if w.name in request.names:
                found.setdefault(w.name, []).append(w)
        return WebhookFacts(found)

    def apply(self, change: Change, phase: str, resolved: Mapping[str, Any]) -> dict[str, Any]:
        name = change.identity["name"]
        if change.action is Action.DELETE:
            self.api.delete_webhook(change.identity["id"])
            return dict(change.identity)
        after = dict(change.after or {})
        secret = change.secrets.get("secret")
        if change.before is None:
            created = self._create(name, after, secret)
            if created is not None:
                return {"name": name, "id": created}
            before, webhook_id = {}, self._by_name(name)  # adopted after a lost answer: converge it below
        else:
            before, webhook_id = dict(change.before), change.identity["id"]
        fields = {
            k: after[k] for k in ("url", "events", "description", "status") if k in after and before.get(k) != after[k]
        }
        if after.get("secret") != before.get("secret"):
            fields["secret"] = secret or ""  # a secret taken out of the file is cleared
        if fields:
            self.api.update_webhook(webhook_id, fields)
        return {"name": name, "id": webhook_id}

    def _create(self, name: str, after: dict, secret: str | None) -> str | None:
        """The new webhook's id, or None when a create whose answer was lost made it after all."""
        for attempt in range(2):
            try:
                return self.api.create_webhook(
                    name, after["url"], after["events"], after.get("description"), after["status"], secret
                ).id
            except AmbiguousWrite:
                if self._by_name(name) is not None:
                    return None
                if attempt:
                    raise
        return None

    def _by_name(self, name: str) -> str | None:
        found = [w.id for w in self.api.list_webhooks() if w.name == name]
        return found[0] if found else None
