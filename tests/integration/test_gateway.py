"""AI Gateway secrets, model definitions and endpoints as code, against the session's real
`mlflow server`: an endpoint made with one route then split 90/10 keeps its id and converges; a
secret rotated in the environment is applied and its value is in no output, plan file, state or
history; a secret replaced by hand is drift and put back; a literal secret is refused without
being echoed. Nothing calls a provider."""

from __future__ import annotations

import json

import pytest

from tests.support.gateway import ByHand
from tests.support.services import ADMIN
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration

KEY = "sk-proj-first-value-0123456789"
ROTATED = "sk-proj-rotated-value-98765xyz"


def _doc(t: str, routes: list[dict], fallback: list[str] = ()) -> dict:
    return {
        "gateway": {
            "secrets": {f"key_{t}": {"provider": "openai", "value": {"api_key": "${GW_TEST_KEY}"}}},
            "models": {
                f"gpt_{t}": {"secret": f"key_{t}", "provider": "openai", "model": "gpt-4o"},
                f"claude_{t}": {"secret": f"key_{t}", "provider": "anthropic", "model": "claude-sonnet-4"},
            },
            "endpoints": {f"chat_{t}": {"routes": routes, "fallback": list(fallback), "tags": {"team": "planning"}}},
        }
    }


def _env(ws: Workspace, key: str = KEY) -> dict:
    return {**ws.env, "GW_TEST_KEY": key}


def test_endpoint_split_90_10_keeps_its_id_and_converges(ws):
    t, hand, env = ws.tag, ByHand(ws.direct_uri), _env(ws)
    gpt, claude = f"gpt_{t}", f"claude_{t}"
    ws.write(_doc(t, [{"model": gpt, "weight": 100}]))
    ws.run("apply", "--auto-approve", env=env, check=0)
    first = hand.call("GET", "endpoints/get", {"name": f"chat_{t}"})["endpoint"]
    ws.assert_converged(env=env)

    ws.write(_doc(t, [{"model": gpt, "weight": 90}, {"model": claude, "weight": 10}], fallback=[claude]))
    plan = ws.run("plan", env=env, check=0).stdout
    assert f"chat_{t}: {gpt} 100% -> 90%, {claude} 0% -> 10% (fallback: {claude})" in plan
    md = ws.run("plan", "--format", "markdown", env=env, check=0).stdout
    assert f"| chat_{t} | {gpt} 100%, {claude} 0% | {gpt} 90%, {claude} 10% | {claude} |" in md.split("### Traffic")[1]
    ws.run("apply", "--auto-approve", env=env, check=0)
    now = hand.call("GET", "endpoints/get", {"name": f"chat_{t}"})["endpoint"]
    assert now["endpoint_id"] == first["endpoint_id"]  # in place
    primary = {
        m["model_definition"]["name"]: m["weight"] for m in now["model_mappings"] if m["linkage_type"] == "PRIMARY"
    }
    assert primary == {gpt: 0.9, claude: 0.1}
    assert (
        now["routing_strategy"] == "REQUEST_BASED_TRAFFIC_SPLIT" and now["fallback_config"]["strategy"] == "SEQUENTIAL"
    )
    assert {tag["key"]: tag["value"] for tag in now["tags"]} == {"team": "planning"}
    ws.assert_converged(env=env)


def test_secret_rotated_applied_never_shown_and_replaced_by_hand_is_drift(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    ws.write(_doc(t, [{"model": f"gpt_{t}", "weight": 100}]))
    outputs = [ws.run("apply", "--auto-approve", env=_env(ws), check=0)]
    [secret] = [s for s in hand.call("GET", "secrets/list")["secrets"] if s["secret_name"] == f"key_{t}"]
    assert secret["masked_values"] == {"api_key": "sk-...6789"}

    rotated = _env(ws, ROTATED)
    outputs.append(ws.run("plan", "--out", "p.plan", env=rotated, check=0))
    assert "~ value    = (sensitive value)" in outputs[-1].stdout
    outputs.append(ws.run("apply", "p.plan", env=rotated, check=0))
    now = hand.call("GET", "secrets/get", {"secret_id": secret["secret_id"]})["secret"]
    assert now["masked_values"] == {"api_key": "sk-...5xyz"}  # rotated in place: same id
    ws.assert_converged(env=rotated)

    # replaced by hand: MLflow's masked form is no longer the environment's value masked
    hand.call(
        "POST", "secrets/update", {"secret_id": secret["secret_id"], "secret_value": {"api_key": "sk-by-hand-00001111"}}
    )
    outputs.append(ws.run("drift", "--detailed-exitcode", "--format", "json", env=rotated))
    assert outputs[-1].returncode == 2, outputs[-1].stdout + outputs[-1].stderr
    found = [d for d in json.loads(outputs[-1].stdout)["resource_drift"] if d["address"] == f"gateway_secret.key_{t}"]
    assert found, outputs[-1].stdout
    outputs.append(ws.run("apply", "--auto-approve", env=rotated, check=0))
    now = hand.call("GET", "secrets/get", {"secret_id": secret["secret_id"]})["secret"]
    assert now["masked_values"] == {"api_key": "sk-...5xyz"}
    ws.assert_converged(env=rotated)

    written = [o.stdout + o.stderr for o in outputs] + [(ws.path / "p.plan").read_bytes().decode("latin-1")]
    written += [json.dumps(ws.state()), json.dumps(ws.history())]
    for text in written:
        for value in (KEY, ROTATED, "sk-by-hand-00001111"):
            assert value not in text and value[3:-4] not in text


def test_a_literal_secret_is_refused_without_echo(ws):
    t = ws.tag
    doc = _doc(t, [{"model": f"gpt_{t}", "weight": 100}])
    doc["gateway"]["secrets"][f"key_{t}"]["value"]["api_key"] = "sk-literal-do-not-echo-42"
    ws.write(doc)
    out = ws.run("plan", env=_env(ws))
    assert out.returncode == 1
    assert f"gateway.secrets.key_{t}.value.api_key" in out.stderr and "environment reference" in out.stderr
    assert "do-not-echo" not in out.stdout + out.stderr


def test_import_of_a_hand_made_endpoint_plans_empty_once_its_secret_variable_is_set(ws):
    t, hand = ws.tag, ByHand(ws.direct_uri)
    secret = hand.secret(f"hand_{t}", {"api_key": KEY})
    model = hand.model(f"gpt_{t}", secret["secret_id"])
    hand.endpoint(f"hand_chat_{t}", {model["model_definition_id"]: 100}, tags={"team": "search"})
    variable = f"MLREG_SECRET_HAND_{t.upper()}_API_KEY"
    ws.write({})
    unset = ws.run("import", "--gateway-endpoint", f"hand_chat_{t}*", "--out", "imported.yaml")
    assert unset.returncode == 1 and variable in unset.stderr  # says which variable to set; writes nothing
    assert not (ws.path / "imported.yaml").exists()

    env = {**ws.env, variable: KEY}
    ws.run("import", "--gateway-endpoint", f"hand_chat_{t}*", "--out", "imported.yaml", env=env, check=0)
    text = (ws.path / "imported.yaml").read_text()
    assert f"${{{variable}}}" in text and KEY not in text
    (ws.path / "registry.yaml").write_text(text)
    ws.assert_converged(env=env)
    assert {f"gateway_secret.hand_{t}", f"gateway_model.gpt_{t}", f"gateway_endpoint.hand_chat_{t}"} <= set(
        ws.state()["resources"]
    )


def test_a_roles_glob_grant_on_gateway_endpoint_expands_to_the_endpoints_ids(auth_server, services, tmp_path):
    ws = Workspace(tmp_path, auth_server.url, services.database_url)
    t = ws.tag
    env = {**_env(ws), "MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
    doc = _doc(t, [{"model": f"gpt_{t}", "weight": 100}])
    route = {"routes": [{"model": f"gpt_{t}", "weight": 100}]}
    doc["gateway"]["endpoints"] = {f"chat_{t}_a": route, f"chat_{t}_b": route, f"other_{t}": route}
    ws.write(doc)
    ws.run("apply", "--auto-approve", env=env, check=0)
    grant = {"resource_type": "gateway_endpoint", "resource_pattern": f"chat_{t}_*", "permission": "USE"}
    doc["access"] = {"roles": {f"callers_{t}": {"permissions": [grant]}}}
    ws.write(doc)
    plan = ws.run("plan", env=env, check=0).stdout
    assert f"+ role_permission.callers_{t}[gateway_endpoint:chat_{t}_a]" in plan
    assert f"+ role_permission.callers_{t}[gateway_endpoint:chat_{t}_b]" in plan
    assert f"gateway_endpoint:other_{t}" not in plan
    ws.run("apply", "--auto-approve", env=env, check=0)

    hand = ByHand(auth_server.url, auth=ADMIN)
    ids = {
        n: hand.call("GET", "endpoints/get", {"name": n})["endpoint"]["endpoint_id"]
        for n in (f"chat_{t}_a", f"chat_{t}_b")
    }
    roles = hand.call("GET", "/api/3.0/mlflow/roles/list", {"workspace": "default"})["roles"]
    [role] = [r for r in roles if r["name"] == f"callers_{t}"]
    granted = {(p["resource_type"], p["resource_pattern"]) for p in role.get("permissions", [])}
    assert granted == {("gateway_endpoint", i) for i in ids.values()}  # MLflow grants on ids, not names
    ws.assert_converged(env=env)


def test_an_endpoint_create_whose_answer_is_lost_makes_one_endpoint(pws, proxy):
    t, hand, env = pws.tag, ByHand(pws.direct_uri), _env(pws)
    pws.write(_doc(t, [{"model": f"gpt_{t}", "weight": 100}]))
    proxy.add("lose", "POST", "/gateway/endpoints/create", times=1)  # MLflow makes it; mlreg never hears back
    pws.run("apply", "--auto-approve", env=env, check=0)
    assert len(proxy.requests("lose")) == 1
    made = [e for e in hand.call("GET", "endpoints/list")["endpoints"] if e["name"] == f"chat_{t}"]
    assert len(made) == 1
    assert pws.state()["resources"][f"gateway_endpoint.chat_{t}"]["identity"]["id"] == made[0]["endpoint_id"]
    assert {tag["key"]: tag["value"] for tag in made[0].get("tags", [])} == {"team": "planning"}  # converged after
    pws.assert_converged(env=env)
