"""AI Gateway guardrails (`gateway_guardrail`) and their attachment to endpoints.

Reads: every guardrail (paged; names are not unique, so all of a name), the registered scorer
versions the file names (experiment by name, then `scorers/get` by name and version), the names
of the experiments live guardrails' scorers are in, and the attachments of endpoints asked for.

Writes: MLflow has no guardrail update, so an update is a replacement: the new guardrail is made,
attached to every endpoint the old one was on at the same execution order, and the old one deleted
(its attachments go with it). A create is sent once (`create_once`): its answer lost, a guardrail
of the name running the same scorer version is adopted.

Endpoints attach guardrails by name in execution order: `attach_in_order` is the one write of an
endpoint's `guardrails` (the endpoint kind's provider calls it), `attached` its read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlreg.planner.changes import Action, Change
from mlreg.planner.kinds.gateway_facts import LiveGuardrail, LiveGuardrailAttachment, LiveScorer
from mlreg.planner.kinds.gateway_guardrail import GuardrailFacts, GuardrailRequest
from mlreg.planner.ports import WriteRequest, WriteResult
from mlreg.providers.mlflow import DISPATCH
from mlreg.providers.mlflow import gateway_api as gw
from mlreg.providers.mlflow.endpoints import API, as_json
from mlreg.providers.mlflow.transport import DOES_NOT_EXIST, Call, MlflowApiError

if TYPE_CHECKING:
    from mlreg.providers.mlflow.provider import Mlflow


def _experiment_by_name(c, b: dict) -> dict:
    from mlflow.exceptions import MlflowException

    found = c.get_experiment_by_name(b["experiment_name"])
    if found is None:
        raise MlflowException(f"No experiment named {b['experiment_name']!r}", error_code=DOES_NOT_EXIST)
    return {"experiment": as_json(found)}


EXPERIMENT_BY_NAME = Call("GET", f"{API}/experiments/get-by-name", local=_experiment_by_name)
EXPERIMENT = Call(
    "GET", f"{API}/experiments/get", local=lambda c, b: {"experiment": as_json(c.get_experiment(b["experiment_id"]))}
)


def _all(mf: Mlflow) -> list[LiveGuardrail]:
    return [gw.guardrail_of(g) for g in mf.api.pages(gw.LIST_GUARDRAILS, {"max_results": 1000}, "guardrails")]


def _missing(e: MlflowApiError) -> bool:
    return e.error_code == DOES_NOT_EXIST or e.status == 404


def scorer(mf: Mlflow, experiment: str, name: str, version: int) -> LiveScorer | None:
    """A registered scorer version, None when its experiment, name or version is not there."""
    try:
        exp = mf.api.call(EXPERIMENT_BY_NAME, {"experiment_name": experiment})["experiment"]
        found = mf.api.call(gw.GET_SCORER, {"experiment_id": exp["experiment_id"], "name": name, "version": version})
    except MlflowApiError as e:
        if _missing(e):
            return None
        raise
    return gw.scorer_of(found["scorer"])


def _experiment_names(mf: Mlflow, ids: set[str]) -> dict[str, str]:
    out = {}
    for eid in sorted(ids):
        try:
            out[eid] = mf.api.call(EXPERIMENT, {"experiment_id": eid})["experiment"]["name"]
        except MlflowApiError as e:
            if not _missing(e):
                raise
    return out


def _endpoint_id(mf: Mlflow, name: str) -> str | None:
    try:
        return mf.api.call(gw.GET_ENDPOINT, {"name": name})["endpoint"]["endpoint_id"]
    except MlflowApiError as e:
        if _missing(e):
            return None
        raise


def attached(mf: Mlflow, endpoint_id: str) -> list[LiveGuardrailAttachment]:
    """An endpoint's guardrails in execution order (MLflow's: ordered ones first, then by id)."""
    answer = mf.api.call(gw.LIST_ATTACHMENTS, {"endpoint_id": endpoint_id})
    return [gw.attachment_of(d) for d in answer.get("configs") or ()]


@DISPATCH.reads(GuardrailRequest)
def read(mf: Mlflow, request: GuardrailRequest) -> GuardrailFacts:
    if not mf.api.exists():
        return GuardrailFacts(note=f"{mf.api.target} does not exist yet: apply creates it")
    found: dict[str, list[LiveGuardrail]] = {}
    wanted = set(request.names)
    for endpoint in sorted(request.attached_to):  # import: the guardrails attached to these endpoints
        eid = _endpoint_id(mf, endpoint)
        wanted |= {a.guardrail_name for a in attached(mf, eid) if a.guardrail_name} if eid else set()
    if wanted:
        for g in _all(mf):
            if g.name in wanted:
                found.setdefault(g.name, []).append(g)
    scorers = {}
    for key in sorted(request.scorers):
        s = scorer(mf, *key)
        if s is not None:
            scorers[key] = s
    ids = {g.scorer.experiment_id for gs in found.values() for g in gs} - {s.experiment_id for s in scorers.values()}
    experiments = {s.experiment_id: key[0] for key, s in scorers.items()}
    experiments.update(_experiment_names(mf, ids))
    for g in (g for gs in found.values() for g in gs):  # a live guardrail's own scorer version exists
        if g.scorer.experiment_id in experiments:
            scorers.setdefault((experiments[g.scorer.experiment_id], g.scorer.name, g.scorer.version), g.scorer)
    attachments = {eid: tuple(attached(mf, eid)) for eid, _ in sorted(request.endpoints)}
    names = dict(request.endpoints)
    return GuardrailFacts(found, scorers, experiments, attachments, names)


@DISPATCH.lists("gateway_guardrail")
def names(mf: Mlflow) -> list[str]:
    return sorted({g.name for g in _all(mf)})


@DISPATCH.writes("gateway_guardrail")
def write(mf: Mlflow, request: WriteRequest) -> WriteResult:
    change = request.change
    name = change.identity["name"]
    if change.action is Action.DELETE:
        mf.api.call(gw.DELETE_GUARDRAIL, {"guardrail_id": change.identity["id"]})
        return WriteResult(dict(change.identity))
    made = _create(mf, name, change)
    if change.action is Action.UPDATE:  # no update in MLflow: the new one takes the old one's places
        _take_over(mf, change.identity["id"], made)
    return WriteResult({"name": name, "id": made})


def _create(mf: Mlflow, name: str, change: Change) -> str:
    after = change.after or {}
    ref = after["scorer"]
    s = scorer(mf, ref["experiment"], ref["name"], int(ref["version"]))
    if s is None:
        raise MlflowApiError(
            f"scorer {ref['name']!r} version {ref['version']} is not registered in experiment {ref['experiment']!r}",
            DOES_NOT_EXIST,
        )
    body = {
        "name": name,
        "scorer_id": s.scorer_id,
        "scorer_version": s.version,
        "stage": after["stage"].upper(),
        "action": after["action"].upper(),
    }
    old = change.identity.get("id")

    def find() -> str | None:
        same = [
            g.id
            for g in _all(mf)
            if g.name == name and g.id != old and (g.scorer.scorer_id, g.scorer.version) == (s.scorer_id, s.version)
        ]
        return same[0] if same else None

    created = mf.api.create_once(gw.CREATE_GUARDRAIL, body, find)
    return created.answer["guardrail"]["guardrail_id"] if created.answer is not None else created.found


def _take_over(mf: Mlflow, old: str, new: str) -> None:
    """Attach `new` wherever `old` is attached, at the same order, then delete `old`."""
    for e in mf.api.call(gw.LIST_ENDPOINTS, {}).get("endpoints") or ():
        for a in attached(mf, e["endpoint_id"]):
            if a.guardrail_id == old:
                _attach(mf, e["endpoint_id"], new, a.execution_order)
    mf.api.call(gw.DELETE_GUARDRAIL, {"guardrail_id": old})


def _attach(mf: Mlflow, endpoint_id: str, guardrail_id: str, order: int | None) -> None:
    """Attach a guardrail at `order`, sent once: its answer lost, an attachment found is kept (and
    given the order)."""
    body = {"endpoint_id": endpoint_id, "guardrail_id": guardrail_id}
    if order is not None:
        body["execution_order"] = order

    def find():
        return next((a for a in attached(mf, endpoint_id) if a.guardrail_id == guardrail_id), None)

    made = mf.api.create_once(gw.ATTACH_GUARDRAIL, body, find, exists_ok=True)
    if made.answer is None and (made.found is None or made.found.execution_order != order):
        mf.api.call(gw.ORDER_GUARDRAIL, body)


def _ids_by_name(mf: Mlflow, names: list[str]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for g in _all(mf):
        if g.name in names:
            out.setdefault(g.name, []).append(g.id)
    missing = [n for n in names if n not in out]
    if missing:
        raise MlflowApiError(f"no guardrail named {missing[0]!r} (declare it under gateway.guardrails)", DOES_NOT_EXIST)
    twice = [n for n in names if len(out[n]) > 1]
    if twice:
        raise MlflowApiError(f"{len(out[twice[0]])} guardrails are named {twice[0]!r}: {', '.join(out[twice[0]])}")
    return {n: ids[0] for n, ids in out.items()}


def attach_in_order(mf: Mlflow, endpoint_id: str, names: list[str]) -> None:
    """Make an endpoint's guardrails exactly `names`, in that execution order (1, 2, …): detach
    the others, attach the missing, renumber the rest. Every step is idempotent or sent once, so a
    rerun after a fault converges."""
    ids = _ids_by_name(mf, list(names))
    want = {ids[n]: i for i, n in enumerate(names, start=1)}
    have = {a.guardrail_id: a.execution_order for a in attached(mf, endpoint_id)}
    for gid in have:
        if gid not in want:
            mf.api.call(gw.DETACH_GUARDRAIL, {"endpoint_id": endpoint_id, "guardrail_id": gid})
    for gid, order in want.items():
        if gid not in have:
            _attach(mf, endpoint_id, gid, order)
        elif have[gid] != order:
            mf.api.call(gw.ORDER_GUARDRAIL, {"endpoint_id": endpoint_id, "guardrail_id": gid, "execution_order": order})


def attached_names(mf: Mlflow, endpoint_id: str) -> list[str]:
    """An endpoint's guardrails by name in execution order (what `guardrails: [..]` compares to)."""
    return [a.guardrail_name or a.guardrail_id for a in attached(mf, endpoint_id)]
