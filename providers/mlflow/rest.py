"""The REST transport for `http(s)://` tracking servers: reads and writes, with mlreg's own
timeouts and retry budget (never MLflow's client defaults of 7 retries for every method).

- Every request has a timeout (connect 10 s; read: what is left of the backend timeout).
- Idempotent requests (every read, tag and alias writes, updates, deletes) are retried with
  backoff on dropped connections, timeouts, 429 and 5xx, until the backend timeout; a request
  that never left this machine (connection refused) is retried even when it is not idempotent.
- A create that got no clear answer raises `AmbiguousWrite`: the caller re-reads and adopts what
  the server made (see models.py). Creates are never retried blindly.
Same environment as MLflow's own client: MLFLOW_TRACKING_USERNAME / _PASSWORD, MLFLOW_TRACKING_TOKEN,
MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_CLIENT_CERT_PATH.
"""

from __future__ import annotations

import os
import threading
import time

from mlreg.planner import redact
from mlreg.planner.errors import AmbiguousWrite
from mlreg.planner.kinds.registry import LiveModel, LiveRun, LiveVersion
from mlreg.planner.kinds.webhook import LiveWebhook
from mlreg.providers.mlflow.api import MlflowApiError, RunInfo
from mlreg.providers.patience import CONNECT_TIMEOUT, Patience

API = "/api/2.0/mlflow"
PAGE_MODELS = 1000
PAGE_VERSIONS = 200_000
PAGE_RUNS = 1000
VERSION_ORDER = ["name ASC", "version_number ASC"]


def _kv(items) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or ()}


def _int(v):
    return int(v) if v is not None else None


def version_of(d: dict) -> LiveVersion:
    return LiveVersion(
        name=d["name"],
        version=str(d["version"]),
        source=d.get("source", ""),
        run_id=d.get("run_id") or None,
        description=d.get("description", ""),
        tags=_kv(d.get("tags")),
        model_id=d.get("model_id") or None,
        user_id=d.get("user_id") or None,
        created=_int(d.get("creation_timestamp")),
        last_updated=_int(d.get("last_updated_timestamp")),
    )


def model_of(d: dict) -> LiveModel:
    return LiveModel(
        name=d["name"],
        description=d.get("description", ""),
        tags=_kv(d.get("tags")),
        aliases={a["alias"]: str(a["version"]) for a in d.get("aliases", ())},
        last_updated=_int(d.get("last_updated_timestamp")),
    )


def _event(name: str) -> dict:
    entity, action = name.split(".")
    return {"entity": entity.upper(), "action": action.upper()}


def webhook_of(d: dict) -> LiveWebhook:
    events = tuple(f"{e['entity'].lower()}.{e['action'].lower()}" for e in d.get("events", ()))
    return LiveWebhook(
        id=d["webhook_id"],
        name=d.get("name", ""),
        url=d.get("url", ""),
        events=events,
        description=d.get("description", ""),
        status=d.get("status", "ACTIVE").lower(),
        last_updated=_int(d.get("last_updated_timestamp")),
    )


def _tags(tags: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _never_sent(exc) -> bool:
    """A connection that was never made: the server cannot have acted on the request."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class RestApi:
    def __init__(self, base_url: str, patience: Patience | None = None):
        self.base = base_url.rstrip("/")
        self.target = f"MLflow at {redact.url(self.base)}"
        self.patience = patience or Patience(self.target, hint="; check the server, then run `mlreg plan` again")
        self._local = threading.local()

    # -- plumbing --------------------------------------------------------------------------------
    def _session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            import requests
            from requests.adapters import HTTPAdapter

            s = requests.Session()
            adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)  # retries are ours (see call)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            env = os.environ
            if env.get("MLFLOW_TRACKING_TOKEN"):
                s.headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
            elif env.get("MLFLOW_TRACKING_USERNAME"):
                s.auth = (env["MLFLOW_TRACKING_USERNAME"], env.get("MLFLOW_TRACKING_PASSWORD", ""))
            if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
                s.verify = False
            elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
                s.verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
            if env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
                s.cert = env["MLFLOW_TRACKING_CLIENT_CERT_PATH"]
            self._local.session = s
        return s

    def call(self, method: str, path: str, body: dict | None = None, idempotent: bool = True) -> dict:
        import requests

        url = f"{self.base}{API}{path}"
        kw = {"params": body} if method == "GET" else {"json": body or {}}
        while True:
            started = time.monotonic()
            read_timeout = self.patience.attempt_timeout()
            try:
                r = self._session().request(
                    method, url, timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout), **kw
                )
            except (requests.ConnectionError, requests.Timeout) as e:
                problem = type(e).__name__ if not e.args else f"{type(e).__name__}: {_short(e)}"
                if not idempotent and not _never_sent(e):
                    raise AmbiguousWrite(f"{self.target}: no answer to {method} {path} ({problem})") from None
                time.sleep(self.patience.failed(started, problem))
                continue
            if r.status_code >= 500 or r.status_code == 429:
                error_code = _error_code(r)
                if r.status_code == 500 and error_code:  # MLflow answered with an application error
                    self.patience.ok()
                    raise _api_error(self.target, method, path, r)
                if not idempotent:
                    raise AmbiguousWrite(f"{self.target}: HTTP {r.status_code} for {method} {path}")
                time.sleep(self.patience.failed(started, f"HTTP {r.status_code}"))
                continue
            self.patience.ok()
            if r.status_code != 200:
                raise _api_error(self.target, method, path, r)
            return r.json()

    def _pages(self, method: str, path: str, key: str, params: dict) -> list[dict]:
        out, token = [], None
        while True:
            p = dict(params, page_token=token) if token else params
            body = self.call(method, path, p)
            out.extend(body.get(key, ()))
            token = body.get("next_page_token")
            if not token:
                return out

    # -- reads -----------------------------------------------------------------------------------
    def search_models(self, flt):
        params = {"max_results": PAGE_MODELS, **({"filter": flt} if flt else {})}
        return [model_of(d) for d in self._pages("GET", "/registered-models/search", "registered_models", params)]

    def search_versions(self, flt):
        params = {"max_results": PAGE_VERSIONS, "order_by": VERSION_ORDER, **({"filter": flt} if flt else {})}
        return [version_of(d) for d in self._pages("GET", "/model-versions/search", "model_versions", params)]

    def search_experiments(self):
        found = self._pages("POST", "/experiments/search", "experiments", {"max_results": 1000})
        return {e["experiment_id"]: e["name"] for e in found}

    def search_runs(self, experiment_ids, flt, names):
        body = {"experiment_ids": experiment_ids, "max_results": PAGE_RUNS, **({"filter": flt} if flt else {})}
        out = []
        for r in self._pages("POST", "/runs/search", "runs", body):
            info, data = r.get("info", {}), r.get("data", {})
            out.append(
                LiveRun(
                    run_id=info["run_id"],
                    experiment_id=info["experiment_id"],
                    experiment_name=names.get(info["experiment_id"], ""),
                    run_name=info.get("run_name", ""),
                    params=_kv(data.get("params")),
                    metrics={m["key"]: float(m["value"]) for m in data.get("metrics", ())},
                    tags=_kv(data.get("tags")),
                    user_id=info.get("user_id") or None,
                )
            )
        return out

    def search_logged_models(self, experiment_ids):
        found = self._pages(
            "POST", "/logged-models/search", "models", {"experiment_ids": experiment_ids, "max_results": 1000}
        )
        return [(m["info"]["model_id"], m["info"].get("name", ""), m["info"].get("source_run_id", "")) for m in found]

    def list_artifacts(self, run_id, path=None):
        body = self.call("GET", "/artifacts/list", {"run_id": run_id, **({"path": path} if path else {})})
        return [f["path"] for f in body.get("files", ())]

    def get_run(self, run_id: str) -> RunInfo:
        run = self.call("GET", "/runs/get", {"run_id": run_id})["run"]
        outputs = (run.get("outputs") or {}).get("model_outputs") or []
        return RunInfo(
            run_id,
            run["info"]["experiment_id"],
            run["info"]["artifact_uri"],
            {o["model_id"]: int(o.get("step", 0)) for o in outputs},
        )

    # -- writes ----------------------------------------------------------------------------------
    def create_model(self, name, tags, description):
        body = {"name": name, "tags": _tags(tags), **({"description": description} if description else {})}
        self.call("POST", "/registered-models/create", body, idempotent=False)

    def update_model(self, name, description):
        self.call("PATCH", "/registered-models/update", {"name": name, "description": description})

    def set_model_tag(self, name, key, value):
        self.call("POST", "/registered-models/set-tag", {"name": name, "key": key, "value": value})

    def delete_model_tag(self, name, key):
        self._absent_ok("DELETE", "/registered-models/delete-tag", {"name": name, "key": key})

    def set_alias(self, name, alias, version):
        self.call("POST", "/registered-models/alias", {"name": name, "alias": alias, "version": str(version)})

    def delete_alias(self, name, alias):
        self._absent_ok("DELETE", "/registered-models/alias", {"name": name, "alias": alias})

    def delete_model(self, name):
        self._absent_ok("DELETE", "/registered-models/delete", {"name": name})

    def create_version(self, name, source, run_id, tags, description, model_id):
        body = {"name": name, "source": source, "tags": _tags(tags)}
        for k, v in (("run_id", run_id), ("description", description), ("model_id", model_id)):
            if v:
                body[k] = v
        return version_of(self.call("POST", "/model-versions/create", body, idempotent=False)["model_version"])

    def update_version(self, name, version, description):
        self.call(
            "PATCH", "/model-versions/update", {"name": name, "version": str(version), "description": description}
        )

    def set_version_tag(self, name, version, key, value):
        self.call(
            "POST", "/model-versions/set-tag", {"name": name, "version": str(version), "key": key, "value": value}
        )

    def delete_version_tag(self, name, version, key):
        self._absent_ok("DELETE", "/model-versions/delete-tag", {"name": name, "version": str(version), "key": key})

    def delete_version(self, name, version):
        self._absent_ok("DELETE", "/model-versions/delete", {"name": name, "version": str(version)})

    # -- webhooks ------------------------------------------------------------------------------------
    def list_webhooks(self) -> list[LiveWebhook]:
        return [webhook_of(w) for w in self._pages("GET", "/webhooks", "webhooks", {"max_results": 1000})]

    def create_webhook(self, name, url, events, description, status, secret) -> LiveWebhook:
        body = {"name": name, "url": url, "events": [_event(e) for e in events], "status": status.upper()}
        if description is not None:
            body["description"] = description
        if secret:
            body["secret"] = secret
        return webhook_of(self.call("POST", "/webhooks", body, idempotent=False)["webhook"])

    def update_webhook(self, webhook_id, fields):
        body = dict(fields)
        if "events" in body:
            body["events"] = [_event(e) for e in body["events"]]
        if "status" in body:
            body["status"] = body["status"].upper()
        self.call("PATCH", f"/webhooks/{webhook_id}", body)

    def delete_webhook(self, webhook_id):
        self._absent_ok("DELETE", f"/webhooks/{webhook_id}", {})

    def _absent_ok(self, method: str, path: str, body: dict) -> None:
        """Deletes are idempotent: already gone counts as done."""
        try:
            self.call(method, path, body)
        except MlflowApiError as e:
            if e.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise


def _short(e: Exception) -> str:
    text = str(e)
    for marker in ("Connection refused", "Remote end closed connection", "Read timed out", "Connection reset"):
        if marker in text:
            return marker
    return text[:120]


def _error_code(r) -> str:
    try:
        return r.json().get("error_code", "")
    except ValueError:
        return ""


def _api_error(target: str, method: str, path: str, r) -> MlflowApiError:
    try:
        body = r.json()
        code, msg = body.get("error_code", ""), body.get("message", "")
    except ValueError:
        code, msg = "", r.text[:200]
    return MlflowApiError(
        redact.redact(f"{target} refused {method} {path}: {code or r.status_code}: {msg}"), code, r.status_code
    )
