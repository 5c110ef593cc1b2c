"""AI Gateway guardrails and budgets as code, against the session's real `mlflow server`: a budget
on an endpoint is created, found by drift when raised by hand and put back; guardrails on
registered scorers are attached in order (and replaced, keeping their place, when their scorer
version changes); a missing scorer is a plan error at its line; an endpoint a budget targets is
not deleted; a budget create whose answer is lost makes one budget. Nothing calls a provider."""

from __future__ import annotations

import json

import pytest

from mlreg.providers.mlflow.kinds.gateway_guardrail import attach_in_order, attached_names
from mlreg.providers.mlflow.provider import MlflowProvider
from mlreg.providers.mlflow.rest import RestTransport
from mlreg.providers.mlflow.transport import MlflowApiError
from tests.support.gateway import ByHand
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration


def _endpoint(ws: Workspace) -> str:
    """A secret, a model definition and an endpoint `chat_<tag>` made by hand; the endpoint's id."""
    hand, t = ByHand(ws.direct_uri), ws.tag
    secret = hand.secret(f"key_{t}", {"api_key": "sk-test-0123456789abcdef"})
    model = hand.model(f"gpt_{t}", secret["secret_id"])
    return hand.endpoint(f"chat_{t}", {model["model_definition_id"]: 100})["endpoint_id"]


def _apply(ws: Workspace, doc: dict) -> None:
    ws.write({"gateway": doc})
    out = ws.run("apply", "--auto-approve")
    assert out.returncode == 0, out.stdout + out.stderr


def _budgets(hand: ByHand, endpoint_id: str) -> list[dict]:
    found = hand.call("GET", "budgets/list", {"max_results": 1000}).get("budget_policies", [])
    return [b for b in found if b.get("target_value") == endpoint_id]


def test_budget_on_an_endpoint_raised_by_hand_is_drift_and_put_back(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    eid = _endpoint(ws)
    budget = {"amount_usd": 500, "every": "1 month", "scope": "endpoint", "target": f"chat_{t}", "action": "reject"}
    _apply(ws, {"budgets": {f"monthly_{t}": budget}})
    [b] = _budgets(hand, eid)  # the endpoint's name in the file, its id in MLflow
    assert (b["budget_amount"], b["duration"], b["budget_action"]) == (500.0, {"unit": "MONTHS", "value": 1}, "REJECT")
    assert b["created_by"] == f"mlreg:monthly_{t}"  # MLflow's budgets have no name: this is how it is found again
    assert ws.state()["resources"][f"gateway_budget.monthly_{t}"]["identity"]["id"] == b["budget_policy_id"]
    ws.assert_converged()

    hand.call("POST", "budgets/update", {"budget_policy_id": b["budget_policy_id"], "budget_amount": 5000})
    drift = ws.run("drift", "--detailed-exitcode", "--format", "json")
    assert drift.returncode == 2, drift.stdout + drift.stderr
    [found] = [d for d in json.loads(drift.stdout)["resource_drift"] if d["address"] == f"gateway_budget.monthly_{t}"]
    assert (found["change"]["before"]["amount_usd"], found["change"]["after"]["amount_usd"]) == (500, 5000)

    _apply(ws, {"budgets": {f"monthly_{t}": budget}})
    [b2] = _budgets(hand, eid)
    assert (b2["budget_policy_id"], b2["budget_amount"]) == (b["budget_policy_id"], 500.0)  # in place, same id
    ws.assert_converged()


def _guardrail(experiment: str, scorer: str, version: int = 1, stage: str = "before") -> dict:
    scorer_ref = {"experiment": experiment, "name": scorer, "version": version}
    return {"scorer": scorer_ref, "stage": stage, "action": "validation"}


def _attached(hand: ByHand, endpoint_id: str) -> list[tuple[str, str, int]]:
    configs = hand.call("GET", "guardrails/list-for-endpoint", {"endpoint_id": endpoint_id}).get("configs", [])
    return [(c["guardrail"]["name"], c["guardrail_id"], c.get("execution_order")) for c in configs]


def test_guardrails_on_registered_scorers_replaced_in_their_place(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    exp, eid = f"evals_{t}", _endpoint(ws)
    pii = hand.register_scorer(exp, f"pii_{t}")
    hand.register_scorer(exp, f"tox_{t}")
    rails = {f"no_pii_{t}": _guardrail(exp, f"pii_{t}"), f"no_tox_{t}": _guardrail(exp, f"tox_{t}", stage="after")}
    _apply(ws, {"guardrails": rails})
    ids = {n: ws.state()["resources"][f"gateway_guardrail.{n}"]["identity"]["id"] for n in rails}
    made = hand.call("GET", "guardrails/get", {"guardrail_id": ids[f"no_pii_{t}"]})["guardrail"]
    assert (made["scorer"]["scorer_id"], made["stage"], made["action"]) == (pii["scorer_id"], "BEFORE", "VALIDATION")
    for order, name in enumerate([f"no_tox_{t}", f"no_pii_{t}"], start=1):  # attached as an endpoint would
        body = {"endpoint_id": eid, "guardrail_id": ids[name], "execution_order": order}
        hand.call("POST", "guardrails/add-to-endpoint", body)
    ws.assert_converged()

    hand.register_scorer(exp, f"pii_{t}", "Is {{ outputs }} free of personal data?")  # version 2
    rails[f"no_pii_{t}"] = _guardrail(exp, f"pii_{t}", version=2)
    ws.write({"gateway": {"guardrails": rails}})
    plan = ws.run("plan")
    assert "MLflow cannot change a guardrail" in plan.stdout, plan.stdout + plan.stderr
    _apply(ws, {"guardrails": rails})
    new = ws.state()["resources"][f"gateway_guardrail.no_pii_{t}"]["identity"]["id"]
    assert new != ids[f"no_pii_{t}"]
    assert hand.call("GET", "guardrails/get", {"guardrail_id": new})["guardrail"]["scorer"]["scorer_version"] == 2
    assert _attached(hand, eid) == [(f"no_tox_{t}", ids[f"no_tox_{t}"], 1), (f"no_pii_{t}", new, 2)]  # same place
    with pytest.raises(AssertionError, match="404"):
        hand.call("GET", "guardrails/get", {"guardrail_id": ids[f"no_pii_{t}"]})  # the replaced one is gone
    ws.assert_converged()


def test_a_missing_scorer_is_a_plan_error_at_its_line(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    hand.register_scorer(f"evals_{t}", f"pii_{t}")
    text = (
        "version: 1\nmlflow: {tracking_uri: '${MLFLOW_TRACKING_URI}'}\ndatabase: {url: '${MLREG_DATABASE_URL}'}\n"
        f"gateway:\n  guardrails:\n    ok_{t}:\n      scorer: {{experiment: evals_{t}, name: pii_{t}, version: 1}}\n"
        "      stage: before\n      action: validation\n"
        f"    no_pii_{t}:\n      scorer: {{experiment: evals_{t}, name: pii_{t}, version: 3}}\n"
        "      stage: before\n      action: validation\n"
    )
    ws.write(text)
    out = ws.run("plan")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "registry.yaml:10" in out.stdout + out.stderr  # the line of `no_pii_…:`
    assert f"Scorer 'pii_{t}' version 3 is not registered in experiment 'evals_{t}'" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_a_budget_create_whose_answer_is_lost_makes_one_budget(pws, proxy):
    t, hand = pws.tag, ByHand(pws.direct_uri)
    eid = _endpoint(pws)
    budget = {"amount_usd": 75, "every": "2 weeks", "scope": "endpoint", "target": f"chat_{t}", "action": "alert"}
    proxy.add("lose", "POST", "/gateway/budgets/create", times=1)  # MLflow makes it; mlreg never hears back
    _apply(pws, {"budgets": {f"fortnight_{t}": budget}})
    assert len(proxy.requests("lose")) == 1
    [b] = _budgets(hand, eid)
    assert b["created_by"] == f"mlreg:fortnight_{t}"
    assert pws.state()["resources"][f"gateway_budget.fortnight_{t}"]["identity"]["id"] == b["budget_policy_id"]
    pws.assert_converged()


def test_an_endpoints_guardrails_are_made_exactly_the_list_in_order(services, ws):
    """The one write of an endpoint's `guardrails: [..]` (the endpoint kind's provider calls it):
    attach in order, reorder, detach what the list leaves out; a rerun leaves it as it is."""
    t, hand = ws.tag, ByHand(ws.direct_uri)
    eid = _endpoint(ws)
    scorer = hand.register_scorer(f"evals_{t}", f"pii_{t}")
    ids = {}
    for n in ("a", "b", "c"):
        body = {"name": f"{n}_{t}", "scorer_id": scorer["scorer_id"], "scorer_version": 1}
        ids[n] = hand.call("POST", "guardrails/create", {**body, "stage": "BEFORE", "action": "VALIDATION"})
        ids[n] = ids[n]["guardrail"]["guardrail_id"]
    mf = MlflowProvider(RestTransport(services.mlflow.url)).mlflow

    for names in (["b", "a", "c"], ["c", "b"], ["c", "b"], []):
        attach_in_order(mf, eid, [f"{n}_{t}" for n in names])
        assert _attached(hand, eid) == [(f"{n}_{t}", ids[n], i) for i, n in enumerate(names, start=1)]
        assert attached_names(mf, eid) == [f"{n}_{t}" for n in names]
    with pytest.raises(MlflowApiError, match=f"no guardrail named 'nope_{t}'"):
        attach_in_order(mf, eid, [f"nope_{t}"])


KEY = "sk-test-0123456789abcdef"


def _declared(ws: Workspace, **more) -> dict:
    """A secret, a model behind it and an endpoint `chat_<tag>` declared in the file, plus `more`."""
    t = ws.tag
    endpoint = {"routes": [{"model": f"gpt_{t}", "weight": 100}], **more.pop("endpoint", {})}
    return {
        "secrets": {f"key_{t}": {"provider": "openai", "value": {"api_key": "${GW_KEY}"}}},
        "models": {f"gpt_{t}": {"secret": f"key_{t}", "provider": "openai", "model": "gpt-4o"}},
        "endpoints": {f"chat_{t}": endpoint},
        **more,
    }


def _env(ws: Workspace) -> dict:
    return {**ws.env, "GW_KEY": KEY}


def test_an_endpoints_guardrails_are_attached_in_the_files_order(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    exp = f"evals_{t}"
    hand.register_scorer(exp, f"pii_{t}")
    hand.register_scorer(exp, f"tox_{t}")
    rails = {f"no_pii_{t}": _guardrail(exp, f"pii_{t}"), f"no_tox_{t}": _guardrail(exp, f"tox_{t}", stage="after")}
    for order in ([f"no_tox_{t}", f"no_pii_{t}"], [f"no_pii_{t}", f"no_tox_{t}"]):
        ws.write({"gateway": _declared(ws, guardrails=rails, endpoint={"guardrails": order})})
        out = ws.run("apply", "--auto-approve", env=_env(ws))
        assert out.returncode == 0, out.stdout + out.stderr
        eid = hand.call("GET", "endpoints/get", {"name": f"chat_{t}"})["endpoint"]["endpoint_id"]
        assert [(n, i) for n, _, i in _attached(hand, eid)] == [(order[0], 1), (order[1], 2)]
        ws.assert_converged(env=_env(ws))


def test_an_endpoint_a_budget_targets_is_not_deleted(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    budget = {"amount_usd": 50, "every": "1 day", "scope": "endpoint", "target": f"chat_{t}", "action": "alert"}
    doc = _declared(ws, budgets={f"daily_{t}": budget})
    ws.write({"gateway": doc})
    out = ws.run("apply", "--auto-approve", env=_env(ws))
    assert out.returncode == 0, out.stdout + out.stderr
    eid = hand.call("GET", "endpoints/get", {"name": f"chat_{t}"})["endpoint"]["endpoint_id"]
    [b] = _budgets(hand, eid)

    del doc["endpoints"], doc["budgets"]  # the budget forgotten (still live), the endpoint to be deleted
    ws.write({"gateway": doc, "removed": [{"address": f"gateway_endpoint.chat_{t}", "destroy": True}]})
    out = ws.run("plan", env=_env(ws))
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"Cannot delete: budgets target it: budget daily_{t} ({b['budget_policy_id']})" in out.stdout + out.stderr
    assert ws.run("apply", "--auto-approve", env=_env(ws)).returncode == 1
    assert hand.call("GET", "endpoints/get", {"endpoint_id": eid})["endpoint"]["name"] == f"chat_{t}"  # still there

    removed = [{"address": f"gateway_{a}", "destroy": True} for a in (f"endpoint.chat_{t}", f"budget.daily_{t}")]
    ws.write({"gateway": doc, "removed": removed})  # the budget deleted in the same plan lets go
    out = ws.run("apply", "--auto-approve", env=_env(ws))
    assert out.returncode == 0, out.stdout + out.stderr
    assert not _budgets(hand, eid)
    with pytest.raises(AssertionError, match="404"):
        hand.call("GET", "endpoints/get", {"endpoint_id": eid})
    ws.assert_converged(env=_env(ws))


def test_import_writes_an_endpoints_guardrails_and_the_budgets_on_it(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    eid = _endpoint(ws)
    scorer = hand.register_scorer(f"evals_{t}", f"pii_{t}")
    body = {"name": f"no_pii_{t}", "scorer_id": scorer["scorer_id"], "scorer_version": 1}
    gid = hand.call("POST", "guardrails/create", {**body, "stage": "AFTER", "action": "SANITIZATION"})
    gid = gid["guardrail"]["guardrail_id"]
    hand.call("POST", "guardrails/add-to-endpoint", {"endpoint_id": eid, "guardrail_id": gid, "execution_order": 1})
    budget = {"budget_unit": "USD", "budget_amount": 40, "duration": {"unit": "DAYS", "value": 1}}
    budget.update(target_scope="ENDPOINT", target_value=eid, budget_action="ALERT")
    bid = hand.call("POST", "budgets/create", budget)["budget_policy"]["budget_policy_id"]

    env = {**ws.env, f"MLREG_SECRET_KEY_{t.upper()}_API_KEY": "sk-test-0123456789abcdef"}
    ws.write({})
    ws.run("import", "--gateway-endpoint", f"chat_{t}", "--out", "imported.yaml", env=env, check=0)
    text = (ws.path / "imported.yaml").read_text()
    assert f"guardrails: [no_pii_{t}]" in text, text
    (ws.path / "registry.yaml").write_text(text)
    ws.assert_converged(env=env)
    resources = ws.state()["resources"]
    assert resources[f"gateway_guardrail.no_pii_{t}"]["identity"]["id"] == gid
    assert resources[f"gateway_budget.chat_{t}_1_days_alert"]["identity"]["id"] == bid  # named by what it is
