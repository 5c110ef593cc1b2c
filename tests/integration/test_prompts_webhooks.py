"""Prompts and webhooks as code, against the real server: registered as MLflow's own client does
(load_prompt returns the template), never mistaken for models, webhooks updated in place, their
deliveries signed with the declared secret (and the rotated one), and the secret nowhere else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.services import free_port

pytestmark = pytest.mark.integration

T1 = "Plan meals for {{days}} days"
T2 = "Plan {{meals}} meals for {{days}} days"
T3 = "Plan {{meals}} balanced meals for {{days}} days"


def _key(template: str) -> str:
    return "sha256:" + hashlib.sha256(template.encode()).hexdigest()[:12]


def _load(ws, name: str, alias: str) -> str:
    import mlflow

    mlflow.set_tracking_uri(ws.direct_uri)
    return mlflow.genai.load_prompt(f"prompts:/{name}@{alias}", cache_ttl_seconds=0).template


def test_prompts_are_registered_loadable_and_managed(ws):
    p = ws.model("planner").replace("_model", "_prompt")
    doc = {
        "prompts": {
            p: {
                "tags": {"team": "planning"},
                "versions": [
                    {
                        "template": T1,
                        "commit_message": "first draft",
                        "tags": {"author": "ana"},
                        "aliases": ["staging"],
                    },
                    {"template": T2, "aliases": ["production"]},
                ],
            }
        }
    }
    ws.write(doc)
    plan = ws.run("plan", check=0).stdout
    assert f"# prompt_version.{p}[{_key(T1)}] will be created" in plan and "Plan: 3 to add" in plan
    ws.run("apply", "--auto-approve", check=0)
    assert _load(ws, p, "staging") == T1 and _load(ws, p, "production") == T2
    c = ws.client  # MLflow's own prompt API sees what mlreg registered
    assert c.get_prompt(p).tags["team"] == "planning"
    v1 = c.get_prompt_version(p, 1)
    assert v1.template == T1 and v1.commit_message == "first draft" and v1.tags["author"] == "ana"
    ws.assert_converged()

    # prompts are not models: a file of models never sees them, and a model of that name is refused
    m = ws.model()
    ws.write({"models": {m: {}}, "prompts": doc["prompts"]})
    plan = json.loads(ws.run("plan", "--format", "json", check=0).stdout)
    assert [rc["address"] for rc in plan["resource_changes"] if rc["type"].startswith("model")] == [f"model.{m}"]
    ws.write({"models": {p: {}}, "prompts": doc["prompts"], "rules": {"model_name_pattern": "^.+$"}})
    out = ws.run("plan")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"'{p}' is declared both as a model and as a prompt" in out.stderr
    ws.write({"models": {p: {}}, "rules": {"model_name_pattern": "^.+$"}}, "other.yaml")
    out = ws.run("-f", "other.yaml", "plan")
    assert out.returncode == 1 and f"'{p}' is a prompt in MLflow's prompt registry, not a model" in out.stdout
    ws.write(doc)

    # an edited template is a new version; the alias moves; the old version is forgotten, not deleted
    doc["prompts"][p]["versions"][1]["template"] = T3
    ws.write(doc)
    plan = ws.run("plan", check=0).stdout
    assert f"# prompt_version.{p}[{_key(T3)}] will be created" in plan
    assert f"# prompt_version.{p}[{_key(T2)}] will be forgotten" in plan
    assert f"# prompt_version.{p}[{_key(T2)}] will be updated" not in plan  # never an update of a template
    ws.run("apply", "--auto-approve", check=0)
    assert _load(ws, p, "production") == T3
    assert len(c.search_model_versions(f"name = '{p}' AND tags.`mlflow.prompt.is_prompt` = 'true'")) == 3
    ws.assert_converged()

    # drift: an alias moved by hand is reported and put back
    c.set_prompt_alias(p, "production", 1)
    out = ws.run("drift", "--detailed-exitcode", check=2).stdout
    assert f'prompt.{p}: aliases.production = "3" -> "1"' in out
    ws.run("apply", "--auto-approve", check=0)
    assert _load(ws, p, "production") == T3
    # deleting a version takes the explicit opt-in
    ws.write({**doc, "removed": [{"address": f"prompt_version.{p}[v2]", "destroy": True}]})
    assert "!! WARNING: this plan DELETES" in ws.run("plan", check=0).stdout
    ws.run("apply", "--auto-approve", check=0)
    assert len(c.search_model_versions(f"name = '{p}' AND tags.`mlflow.prompt.is_prompt` = 'true'")) == 2
    ws.assert_converged()


def test_import_prompts_then_plan_is_empty(ws):
    import mlflow

    p = ws.model("ranker").replace("_model", "_prompt")
    mlflow.set_tracking_uri(ws.direct_uri)
    mlflow.genai.register_prompt(p, T1, commit_message="one", tags={"author": "bo"})
    mlflow.genai.register_prompt(p, T2)
    mlflow.genai.set_prompt_alias(p, "production", 2)
    (ws.path / "registry.yaml").write_text(
        "version: 1\nmlflow:\n  tracking_uri: ${MLFLOW_TRACKING_URI}\ndatabase:\n  url: ${MLREG_DATABASE_URL}\n"
    )
    ws.run("import", "--prompt", p, "--out", "imported.yaml", check=0)
    text = (ws.path / "imported.yaml").read_text()
    assert "prompts:" in text and "aliases: [production]" in text and "commit_message: one" in text
    assert "models:" not in text  # the prompt is not imported as a model
    out = ws.run("-f", "imported.yaml", "plan", "--detailed-exitcode")
    assert out.returncode == 0, out.stdout + out.stderr
    (ws.path / "registry.yaml").write_text(text)
    ws.assert_converged()


class Receiver:
    """Collects MLflow's webhook deliveries on loopback."""

    def __init__(self):
        self.deliveries: queue.Queue = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                outer.deliveries.put((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def next(self, entity: str, timeout: float = 30.0) -> tuple[dict, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                headers, body = self.deliveries.get(timeout=1)
            except queue.Empty:
                continue
            if json.loads(body).get("entity") == entity:
                return headers, body
        raise AssertionError(f"no {entity} delivery within {timeout} s")

    def stop(self):
        self.server.shutdown()


def _signed_with(secret: str, headers: dict, body: str) -> bool:
    content = f"{headers['X-MLflow-Delivery-Id']}.{headers['X-MLflow-Timestamp']}.{body}"
    mac = base64.b64encode(hmac.new(secret.encode(), content.encode(), hashlib.sha256).digest()).decode()
    return headers["X-MLflow-Signature"] == f"v1,{mac}"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def test_webhook_managed_by_name_signed_rotated_and_secret_never_written(ws, receiver):
    name = f"deploy_bot_{ws.tag}"
    first, second = f"first-secret-{ws.tag}", f"rotated-secret-{ws.tag}"
    m = ws.model()
    a, b = ws.log_run("run-a"), ws.log_run("run-b")
    doc = {
        "webhooks": {
            name: {
                "url": receiver.url,
                "events": ["model_version.created"],
                "description": "tell the deploy bot",
                "secret": "${DEPLOY_BOT_WEBHOOK_SECRET}",
            }
        },
        "models": {m: {"versions": []}},
    }
    ws.write(doc)
    env = {**ws.env, "DEPLOY_BOT_WEBHOOK_SECRET": first}
    ws.run("apply", "--auto-approve", env=env, check=0)
    c = ws.client
    (hook,) = [w for w in c.list_webhooks() if w.name == name]
    assert hook.url == receiver.url and str(hook.status) == "ACTIVE" and hook.description == "tell the deploy bot"

    doc["models"][m]["versions"] = [{"run_id": a}]  # registering a version fires the webhook
    ws.write(doc)
    ws.run("apply", "--auto-approve", env=env, check=0)
    headers, body = receiver.next("model_version")
    assert _signed_with(first, headers, body) and not _signed_with(second, headers, body)

    # rotate: the plan shows that it changes, never what it is; the same webhook is updated
    env = {**ws.env, "DEPLOY_BOT_WEBHOOK_SECRET": second}
    plan = ws.run("plan", env=env, check=0).stdout
    assert "~ secret = (sensitive value)" in " ".join(plan.split())
    doc["models"][m]["versions"].append({"run_id": b})
    ws.write(doc)
    outputs = [
        plan,
        ws.run("plan", "--format", "json", "--out", "p.plan", env=env, check=0).stdout,
        ws.run("plan", "--format", "markdown", env=env, check=0).stdout,
    ]
    outputs.append(ws.run("apply", "p.plan", env=env, check=0).stdout)
    time.sleep(1.5)  # the server caches webhooks for a second (MLFLOW_WEBHOOK_CACHE_TTL in the fixture)
    (again,) = [w for w in c.list_webhooks() if w.name == name]
    assert again.webhook_id == hook.webhook_id  # in place, same id
    headers, body = receiver.next("model_version")
    assert _signed_with(second, headers, body)

    # disabled by hand: drift reports it, the next apply puts it back
    c.update_webhook(hook.webhook_id, status="DISABLED")
    out = ws.run("drift", "--detailed-exitcode", env=env, check=2).stdout
    assert f'webhook.{name}: status = "active" -> "disabled"' in out
    ws.run("apply", "--auto-approve", env=env, check=0)
    assert str(next(w for w in c.list_webhooks() if w.name == name).status) == "ACTIVE"
    ws.assert_converged(env=env)

    outputs += [
        (ws.path / "p.plan").read_text(),
        (ws.path / ".mlreg" / "state.json").read_text(),
        (ws.path / ".mlreg" / "history.jsonl").read_text(),
        ws.run("state", "pull", env=env).stdout,
    ]
    for text in outputs:
        assert first not in text and second not in text

    # a second live webhook with the managed name is an error naming both ids
    twin = c.create_webhook(name=name, url=receiver.url, events=["model_version.created"])
    out = ws.run("plan", env=env)
    assert out.returncode == 1 and hook.webhook_id in out.stdout and twin.webhook_id in out.stdout
    c.delete_webhook(twin.webhook_id)
    ws.write({**doc, "removed": [{"address": f"webhook.{name}", "destroy": True}], "webhooks": {}})
    ws.run("apply", "--auto-approve", env=env, check=0)
    assert not [w for w in c.list_webhooks() if w.name == name]
    ws.assert_converged(env=env)
