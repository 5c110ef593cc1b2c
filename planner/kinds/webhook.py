"""`webhook.NAME`: an MLflow 3 registry webhook, managed by name (MLflow's names are not unique:
two live webhooks with a managed name is an error naming both ids).

Managed: url, events, status, description (when declared) and the secret. MLflow never returns a
secret, so `secret` is compared through state: it holds a salted, slow hash of the value last
applied (never the value); a rotated secret changes the hash and is applied. Changes are made in
place, keeping the webhook's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.kinds.base import DiffContext, Kind, decide
from mlreg.planner.kinds.registry import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.model import Action, Address, Change, address
from mlreg.planner.statedata import ResourceState, StateSnapshot

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.schema import Config, RemovedSpec
    from mlreg.planner.config.webhooks import WebhookSpec

TYPE = "webhook"
_ITERATIONS = 200_000


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


def secret_hash(name: str, secret: str) -> str:
    """What state keeps of a secret: PBKDF2-HMAC-SHA256 salted with the webhook's name, slow on
    purpose, so the value cannot be recovered or guessed from state or plan files."""
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), f"mlreg/webhook/{name}".encode(), _ITERATIONS)
    return "pbkdf2-sha256:" + digest.hex()[:32]


def values(w: LiveWebhook) -> dict:
    return {"url": w.url, "events": sorted(w.events), "description": w.description, "status": w.status}


class WebhookKind(Kind):
    type: ClassVar[str] = TYPE
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 30
    keyed: ClassVar[bool] = False
    sensitive: ClassVar[tuple[str, ...]] = ("secret",)

    def requests(self, cfg: Config, state: StateSnapshot) -> Iterable[WebhookRequest]:
        names = set(cfg.webhooks) | {Address.parse(a).name for a in cfg.destroyed() if a.startswith(TYPE + ".")}
        names |= {rs.identity.get("name") for rs in state.resources.values() if rs.type == TYPE}
        yield WebhookRequest(names=frozenset(names - {None}))

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
        after: dict = {"url": spec.url, "events": sorted(spec.events), "status": spec.status}
        if spec.description is not None:
            after["description"] = spec.description
        secrets = {}
        if spec.secret:
            after["secret"] = secret_hash(name, spec.secret)
            secrets["secret"] = spec.secret
        if not live:
            ctx.changes.append(
                Change(
                    addr,
                    TYPE,
                    Action.CREATE,
                    None,
                    after,
                    identity={"name": name, "id": None},
                    secrets=secrets,
                    **self.recreate_reason(recorded),
                )
            )
            return
        w = live[0]
        before = values(w)
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
        return values(found[0]), found[0].last_updated, None  # the secret is never read back

    def gone_note(self, rs: ResourceState) -> str:
        return f"webhook {rs.identity.get('id')} no longer exists"


KIND = WebhookKind()
