"""`gateway_model.NAME`: an AI Gateway model definition (a provider's model behind a secret),
managed by name (unique per workspace). Changes are made in place, keeping the id. The secret is
named in the file; the provider writes its id (read at apply, so a secret made in the same apply
is found). MLflow keys a model definition's grants by its id (`granted_as`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Change, address
from mlreg.planner.kinds.base import DiffContext, Kind, created, decide
from mlreg.planner.kinds.gateway_facts import LiveGatewayModel
from mlreg.planner.kinds.grants import Grant
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "gateway_model"
SECTION = "gateway.models"
SECRET = "gateway_secret"  # the kind of the secret a definition is behind


@dataclass(frozen=True)
class GatewayModelFacts:
    models: dict[str, LiveGatewayModel] = field(default_factory=dict)  # name -> live definition
    note: str = ""


@dataclass(frozen=True)
class GatewayModelRequest(Request):
    provider = PROVIDER
    facts = GatewayModelFacts

    names: frozenset[str] = frozenset()


def values(m: LiveGatewayModel) -> dict:
    return {"secret": m.secret_name, "provider": m.provider, "model": m.model_name}


class GatewayModelKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("gateway", "models")
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 59  # after its secret, before the endpoints routing to it
    keyed: ClassVar[bool] = False
    section: ClassVar[str] = SECTION
    grant: ClassVar[Grant] = Grant("gateway_model_definition")

    def declared_requests(self, cfg) -> Iterable[GatewayModelRequest]:
        names = set(self._entries(cfg)) | self.destroyed_names(cfg)
        if names:
            yield GatewayModelRequest(names=frozenset(names))

    def recorded_requests(self, resources) -> Iterable[GatewayModelRequest]:
        names = self.recorded_names(resources)
        if names:
            yield GatewayModelRequest(names=frozenset(names))

    def named_requests(self, names: frozenset[str]) -> Iterable[GatewayModelRequest]:
        yield GatewayModelRequest(names=names)

    def import_id(self, change: Change) -> str | None:
        return change.identity.get("id")

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[GatewayModelFacts]
        secrets = set(ctx.cfg.gateway.secrets)
        for name, spec in self._entries(ctx.cfg).items():
            addr = address(TYPE, name)
            recorded = ctx.state.resources.get(addr)
            after = {"secret": spec.secret, "provider": spec.provider, "model": spec.model}
            depends = (address(SECRET, spec.secret),) if spec.secret in secrets else ()
            live = facts.models.get(name)
            if live is None:
                identity = {"name": name, "id": None}
                ctx.changes.append(created(addr, TYPE, after, recorded, identity=identity, depends_on=depends))
                continue
            identity = {"name": name, "id": live.id}
            ctx.changes.append(decide(addr, TYPE, values(live), after, recorded, identity, depends_on=depends))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        live = ctx.live[GatewayModelFacts].models.get(name)
        if live is None:
            return None
        return values(live), {"name": name, "id": live.id}

    def granted_as(self, name: str, live: LiveSnapshot) -> str | None:
        found = live[GatewayModelFacts].models.get(name)
        return found.id if found else None

    def grant_name(self, pattern: str, live: LiveSnapshot) -> str:
        return next((m.name for m in live[GatewayModelFacts].models.values() if m.id == pattern), pattern)

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        found = live[GatewayModelFacts].models.get(rs.identity.get("name"))
        if found is None or found.id != rs.identity.get("id"):
            return None, None, None
        return values(found), found.last_updated, found.last_updated_by

    def gone_note(self, rs: ResourceState) -> str:
        return f"gateway model definition {rs.identity.get('id')} no longer exists"


KIND = GatewayModelKind()
