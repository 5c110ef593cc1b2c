"""What MLflow's AI Gateway is made of, as the engine sees it (MLflow 3.17, measured against a
real `mlflow server`): secrets (shown only masked), model definitions, endpoints with
their routes, guardrails and their attachments, budget policies, and the registered scorers
guardrails run. Plain frozen values; no provider imports, so the planner can diff them.

Enumerations are lower-case, in the file's words (`before`, `validation`, `reject`, `months`);
the provider translates to MLflow's upper-case names. Ids are MLflow's (`s-…`, `d-…`, `e-…`,
`gr-…`, `bp-…`; a scorer's id is a bare UUID). MLflow's gateway JSON carries no workspace: a
request's workspace is the one it was sent in.

`mask_value` / `mask_secret` reproduce MLflow's masking of a secret value exactly
(`mlflow.utils.crypto._mask_string_value`), so drift can compare MLflow's masked form with the
environment's value masked the same way without ever reading the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HIDDEN = "***"  # MLflow's mask of a value under 8 characters (or not a string): says nothing about it
PRIMARY, FALLBACK = "primary", "fallback"
DURATION_UNITS = ("minutes", "hours", "days", "weeks", "months")
BUDGET_SCOPES = ("global", "workspace", "endpoint", "user")
TARGETED_SCOPES = ("endpoint", "user")  # the scopes whose budgets carry a target (endpoint id, user name)


def mask_value(value: object) -> str:
    """One secret value as MLflow 3.17 shows it: under 8 characters (or not a string) `***`,
    else its first 3 characters, `...`, its last 4 (`sk-proj-…1234` -> `sk-...1234`)."""
    if not isinstance(value, str) or len(value) < 8:
        return HIDDEN
    return f"{value[:3]}...{value[-4:]}"


def mask_secret(values: Mapping[str, object]) -> dict[str, str]:
    """A secret's values (key -> value) masked key by key, as MLflow returns `masked_values`."""
    return {k: mask_value(v) for k, v in values.items()}


def masks_differ(live_masked: Mapping[str, str], values: Mapping[str, object]) -> bool:
    """Whether the live secret is certainly not these values: a different key set, or a key whose
    masked forms differ. Equal masks do not prove equal values (a replacement that keeps the first
    3 and last 4 characters, or any value under 8 characters, masks the same)."""
    return dict(live_masked) != mask_secret(values)


@dataclass(frozen=True, slots=True)
class LiveSecret:
    id: str
    name: str
    masked: dict[str, str]  # key -> masked value (never the value)
    provider: str | None = None
    auth_config: dict[str, str] = field(default_factory=dict)  # non-secret settings (region, api_base, …)
    created_by: str | None = None
    last_updated_by: str | None = None
    created: int | None = None
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveGatewayModel:
    """A model definition: a provider's model behind a secret. `secret_id` is None once the secret
    was deleted (MLflow sets it to NULL and keeps the definition)."""

    id: str
    name: str
    provider: str
    model_name: str
    secret_id: str | None = None
    secret_name: str | None = None
    created_by: str | None = None
    last_updated_by: str | None = None
    created: int | None = None
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveRoute:
    """One model mapping of an endpoint. `model` is the model definition's name (None when the
    server withheld the definition from a caller without permission on it)."""

    mapping_id: str  # new on every route change: not an identity
    model_definition_id: str
    model: str | None
    linkage: str  # primary | fallback
    weight: float
    fallback_order: int | None = None


@dataclass(frozen=True, slots=True)
class LiveEndpoint:
    id: str
    name: str
    routes: tuple[LiveRoute, ...]
    routing_strategy: str | None = None  # "REQUEST_BASED_TRAFFIC_SPLIT" or None (first primary only)
    fallback_strategy: str | None = None  # "SEQUENTIAL" or None
    fallback_max_attempts: int | None = None
    has_fallback_config: bool = False  # MLflow returns `fallback_config: {}` once fallbacks were ever set
    usage_tracking: bool = True
    experiment_id: str | None = None  # where usage traces go (made by the server: differs per server)
    tags: dict[str, str] = field(default_factory=dict)
    created_by: str | None = None
    last_updated_by: str | None = None
    created: int | None = None
    last_updated: int | None = None

    @property
    def primaries(self) -> tuple[LiveRoute, ...]:
        return tuple(r for r in self.routes if r.linkage == PRIMARY)

    @property
    def fallback(self) -> tuple[str | None, ...]:
        """Fallback model names in the order the gateway tries them (fallback_order; unset last)."""
        found = [r for r in self.routes if r.linkage == FALLBACK]
        found.sort(key=lambda r: (r.fallback_order is None, r.fallback_order or 0))
        return tuple(r.model for r in found)

    def split(self) -> dict[str | None, float]:
        """The share of traffic (percent) each primary model gets, as the gateway computes it
        (mlflow/server/gateway_api.py): with the traffic-split strategy each weight becomes
        int(weight * 100) and the shares are those over their sum; without it the first primary
        route takes everything. Weights are relative: 0.9/0.1 (MLflow's UI) and 90/10 agree."""
        primaries = self.primaries
        if not primaries:
            return {}
        if self.routing_strategy != "REQUEST_BASED_TRAFFIC_SPLIT" or len(primaries) == 1:
            return {r.model: (100.0 if i == 0 else 0.0) for i, r in enumerate(primaries)}
        ints = [int(r.weight * 100) for r in primaries]
        total = sum(ints)
        return {r.model: (round(100.0 * n / total, 2) if total else 0.0) for r, n in zip(primaries, ints, strict=True)}


@dataclass(frozen=True, slots=True)
class LiveScorer:
    """One version of a registered scorer (guardrails pin a version)."""

    scorer_id: str
    experiment_id: str
    name: str
    version: int
    serialized: str = ""  # MLflow's serialized scorer (JSON text)
    created: int | None = None


@dataclass(frozen=True, slots=True)
class LiveGuardrail:
    """A guardrail: a registered scorer version run before or after a call. MLflow has no update
    for it (stage, action or scorer change = a new guardrail); names are not unique."""

    id: str
    name: str
    scorer: LiveScorer
    stage: str  # before | after
    action: str  # validation | sanitization
    action_endpoint: str | None = None  # MLflow answers with the endpoint's NAME here, not its id
    created_by: str | None = None  # the server process's OS user, not the caller
    last_updated_by: str | None = None
    created: int | None = None
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LiveGuardrailAttachment:
    """A guardrail on an endpoint, in execution order (None: unordered, runs after ordered ones)."""

    endpoint_id: str
    guardrail_id: str
    guardrail_name: str | None
    execution_order: int | None = None


@dataclass(frozen=True, slots=True)
class LiveBudget:
    """A budget policy. MLflow gives it no name; `target` is the endpoint id (endpoint scope) or
    the user name (user scope), None otherwise."""

    id: str
    amount: float
    unit: str  # "USD" (the only unit)
    every_value: int
    every_unit: str  # minutes | hours | days | weeks | months
    scope: str  # global | workspace | endpoint | user
    action: str  # alert | reject
    target: str | None = None
    created_by: str | None = None  # free text the client sends (MLflow fills in nothing)
    last_updated_by: str | None = None
    created: int | None = None
    last_updated: int | None = None

    @property
    def every(self) -> str:
        """The window in the file's words: `1 month`, `2 weeks`."""
        unit = self.every_unit[:-1] if self.every_value == 1 else self.every_unit
        return f"{self.every_value} {unit}"

    @property
    def identity(self) -> tuple[str, str | None, int, str, str]:
        """What adoption matches on: scope + target + window + action."""
        return (self.scope, self.target, self.every_value, self.every_unit, self.action)
