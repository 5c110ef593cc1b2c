"""`webhook.NAME`: an MLflow 3 registry webhook, managed by name (MLflow's names are not unique:
two live webhooks with a managed name is an error naming both ids).

Managed: url, events, status, description (when declared) and the secret. MLflow never returns a
secret, so `secret` is compared through state: it holds a keyed hash of the value last applied
(never the value; planner/secrets.py); a rotated secret changes the hash and is applied. A URL
written as `${VAR}` is a secret too (it may carry a token): planned, recorded and shown as a hash,
compared with the live URL hashed the same way. Changes are made in place, keeping the webhook's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Change, address
from mlreg.planner.kinds.base import (
    Chosen,
    DiffContext,
    Importer,
    Kind,
    created,
    decide,
    dump,
)
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState
from mlreg.planner.secrets import Hasher

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.removed import RemovedSpec
    from mlreg.planner.config.sections.webhooks import WebhookSpec

TYPE = "webhook"
SECTION = "webhooks"  # config/sections/: its types and checks


@dataclass(frozen=True, slots=True)
class LiveWebhook:
    id: str
    name: str
    url: str
    events: tuple[str, ...]
    description: str
    status: str  # "active" | "disabled"
    last_updated: int | None = None


@dataclass(frozen=True)
class WebhookFacts:
    webhooks: dict[str, list[LiveWebhook]] = field(default_factory=dict)  # name -> live webhooks of that name
    note: str = ""


@dataclass(frozen=True)
class WebhookRequest(Request):
    provider = PROVIDER
    facts = WebhookFacts

    names: frozenset[str] = frozenset()


def values(w: LiveWebhook, hasher: Hasher | None = None) -> dict:
    """The managed values of a live webhook; with `hasher`, its URL as the hash a secret URL is
    recorded as."""
    url = hasher.hash(w.url) if hasher is not None else w.url
    return {"url": url, "events": sorted(w.events), "description": w.description, "status": w.status}


class WebhookImporter(Importer):
    option = "webhook"
    help = "Webhooks to import, by name (repeatable). MLflow never returns a secret: add it after."
    by_names = WebhookRequest

    def render(self, live: LiveSnapshot, chosen: list[Chosen]) -> list[str]:
        return webhook_lines(live, [c.name for c in chosen])


class WebhookKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("webhooks",)
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 30
    keyed: ClassVar[bool] = False
    sensitive: ClassVar[tuple[str, ...]] = ("secret",)
    section: ClassVar[str] = SECTION
    importer: ClassVar[Importer] = WebhookImporter()

    def declared_requests(self, cfg: Config) -> Iterable[WebhookRequest]:
        yield WebhookRequest(names=frozenset(set(cfg.webhooks) | self.destroyed_names(cfg)))

    def recorded_requests(self, resources) -> Iterable[WebhookRequest]:
        names = self.recorded_names(resources)
        if names:
            yield WebhookRequest(names=frozenset(names))

    def import_id(self, change: Change) -> str | None:
        return change.identity.get("id")

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[WebhookFacts]
        for name, spec in ctx.cfg.webhooks.items():
            self._diff_one(ctx, name, spec, facts.webhooks.get(name, []))

    def _diff_one(self, ctx: DiffContext, name: str, spec: WebhookSpec, live: list[LiveWebhook]) -> None:
        addr = address(TYPE, name)
        recorded = ctx.state.resources.get(addr)
        if len(live) > 1:
            ids = ", ".join(w.id for w in live)
            ctx.error(
                f"{len(live)} live webhooks are named {name!r}: {ids}",
                "mlreg manages webhooks by name: delete or rename the extra one in MLflow",
                addr,
            )
            return
        hasher = ctx.hasher
        rec = recorded.attributes if recorded else {}
        secrets = {}
        url = spec.url
        if spec.url_sensitive:  # written as ${VAR}: the URL is a secret
            url = hasher.keep(spec.url, rec.get("url"))
            secrets["url"] = spec.url
        after: dict = {"url": url, "events": sorted(spec.events), "status": spec.status}
        if spec.description is not None:
            after["description"] = spec.description
        if spec.secret:
            after["secret"] = hasher.keep(spec.secret, rec.get("secret"), f"mlreg/webhook/{name}")
            secrets["secret"] = spec.secret
        if not live:
            ctx.changes.append(
                created(addr, TYPE, after, recorded, identity={"name": name, "id": None}, secrets=secrets)
            )
            return
        w = live[0]
        before = values(w, hasher if spec.url_sensitive else None)
        if spec.description is None:
            del before["description"]
        rec_secret = recorded.attributes.get("secret") if recorded else None
        if rec_secret is not None or "secret" in after:
            before["secret"] = rec_secret  # MLflow never returns it: what was last applied
        ctx.changes.append(decide(addr, TYPE, before, after, recorded, {"name": name, "id": w.id}, secrets=secrets))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        live = ctx.live[WebhookFacts].webhooks.get(name, [])
        if len(live) > 1:
            ctx.error(
                f"{len(live)} live webhooks are named {name!r}: {', '.join(w.id for w in live)}",
                "delete the one you mean in MLflow",
                addr,
            )
            return None
        if not live:
            return None
        return values(live[0]), {"name": name, "id": live[0].id}

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        found = [
            w for w in live[WebhookFacts].webhooks.get(rs.identity.get("name"), []) if w.id == rs.identity.get("id")
        ]
        if not found:
            return None, None, None
        # the secret is never read back; a secret URL is compared with its recorded hash by drift
        return values(found[0]), found[0].last_updated, None

    def gone_note(self, rs: ResourceState) -> str:
        return f"webhook {rs.identity.get('id')} no longer exists"


KIND = WebhookKind()


def webhook_lines(live: LiveSnapshot, names: list[str]) -> list[str]:
    """Webhooks as MLflow lists them. MLflow never returns a secret, so none is written: a
    webhook that has one keeps it (unmanaged) until the file names it as `${VAR}`."""
    facts = live[WebhookFacts]
    lines = ["webhooks:"]
    for name in names:
        found = facts.webhooks.get(name, [])
        if len(found) != 1:
            lines.append(f"  # {name}: {len(found)} live webhooks have this name; not imported")
            continue
        w = found[0]
        entry = {"url": w.url, "events": sorted(w.events), "status": w.status}
        if w.description:
            entry["description"] = w.description
        lines.append(f"  {dump(name)}: {dump(entry)}   # id {w.id}; a secret, if it has one, is not readable")
    return lines
