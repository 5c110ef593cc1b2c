"""`gateway_secret.NAME`: an AI Gateway secret (a provider's credentials), managed by name.

MLflow never returns a secret's values, only a masked form (`sk-...1234`). State keeps two keyed
hashes (planner/secrets.py), never a value: `value`, of the values last applied (a rotation in the
environment changes it and is applied in place, keeping the id), and `masked`, of MLflow's masked
form of them. A secret replaced by hand shows as a masked form that is not the environment's
values masked the same way (`gateway_facts.mask_secret`): the plan updates it back, and drift
reports `masked` changed, all without reading the secret. (Equal masks do not prove equal values:
a replacement keeping the first 3 and last 4 characters, or any value under 8, goes unseen.)
MLflow keys a secret's grants by its id (`granted_as`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Change, address
from mlreg.planner.kinds.base import DiffContext, Kind, created, decide
from mlreg.planner.kinds.gateway_facts import LiveSecret, mask_secret
from mlreg.planner.kinds.grants import Grant
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot, Request
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:  # annotations only: the kinds import no pydantic at run time
    from mlreg.planner.config.sections.gateway_secret import GatewaySecretSpec
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "gateway_secret"
SECTION = "gateway.secrets"


@dataclass(frozen=True)
class SecretFacts:
    secrets: dict[str, LiveSecret] = field(default_factory=dict)  # name -> live (names are unique)
    note: str = ""


@dataclass(frozen=True)
class SecretRequest(Request):
    provider = PROVIDER
    facts = SecretFacts

    names: frozenset[str] = frozenset()


def canonical(values: Mapping[str, object]) -> str:
    """One text for a mapping of values (hashed as a whole: MLflow replaces them as a whole)."""
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"))


def values(s: LiveSecret) -> dict:
    """The managed values of a live secret: its masked form as text (hashed before it is kept)."""
    out: dict = {"provider": s.provider, "masked": canonical(s.masked)}
    if s.auth_config:
        out["auth_config"] = dict(s.auth_config)
    return out


class GatewaySecretKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("gateway", "secrets")
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = 58  # before the model definitions behind it
    keyed: ClassVar[bool] = False
    sensitive: ClassVar[tuple[str, ...]] = ("value",)
    section: ClassVar[str] = SECTION
    grant: ClassVar[Grant] = Grant("gateway_secret")

    def declared_requests(self, cfg) -> Iterable[SecretRequest]:
        names = set(self._entries(cfg)) | self.destroyed_names(cfg)
        if names:
            yield SecretRequest(names=frozenset(names))

    def recorded_requests(self, resources) -> Iterable[SecretRequest]:
        names = self.recorded_names(resources)
        if names:
            yield SecretRequest(names=frozenset(names))

    def named_requests(self, names: frozenset[str]) -> Iterable[SecretRequest]:
        yield SecretRequest(names=names)

    def import_id(self, change: Change) -> str | None:
        return change.identity.get("id")

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[SecretFacts]
        for name, spec in self._entries(ctx.cfg).items():
            self._diff_one(ctx, name, spec, facts.secrets.get(name))

    def _diff_one(self, ctx: DiffContext, name: str, spec: GatewaySecretSpec, live: LiveSecret | None) -> None:
        addr = address(TYPE, name)
        recorded = ctx.state.resources.get(addr)
        rec = recorded.attributes if recorded else {}
        hasher = ctx.hasher
        text = canonical(spec.value)
        after: dict = {
            "provider": spec.provider,
            "value": hasher.keep(text, rec.get("value")),
            "masked": hasher.keep(canonical(mask_secret(spec.value)), rec.get("masked")),
        }
        if spec.auth_config is not None:
            after["auth_config"] = dict(spec.auth_config)
        secrets = {"value": text}
        if live is None:
            ctx.changes.append(
                created(addr, TYPE, after, recorded, identity={"name": name, "id": None}, secrets=secrets)
            )
            return
        before = values(live)
        before["masked"] = hasher.keep(before["masked"], rec.get("masked"))
        if spec.auth_config is None:
            before.pop("auth_config", None)
        # MLflow never returns the values: what was last applied; adopted (no state), the file's
        # values when MLflow's masked form is theirs
        before["value"] = rec.get("value") or (after["value"] if before["masked"] == after["masked"] else None)
        identity = {"name": name, "id": live.id}
        ctx.changes.append(decide(addr, TYPE, before, after, recorded, identity, secrets=secrets))

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        live = ctx.live[SecretFacts].secrets.get(name)
        if live is None:
            return None
        return values(live), {"name": name, "id": live.id}

    def granted_as(self, name: str, live: LiveSnapshot) -> str | None:
        found = live[SecretFacts].secrets.get(name)
        return found.id if found else None

    def grant_name(self, pattern: str, live: LiveSnapshot) -> str:
        return next((s.name for s in live[SecretFacts].secrets.values() if s.id == pattern), pattern)

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        found = live[SecretFacts].secrets.get(rs.identity.get("name"))
        if found is None or found.id != rs.identity.get("id"):
            return None, None, None
        # `masked` is compared with its recorded hash by drift; the values are never read
        return values(found), found.last_updated, found.last_updated_by

    def gone_note(self, rs: ResourceState) -> str:
        return f"gateway secret {rs.identity.get('id')} no longer exists"


KIND = GatewaySecretKind()
