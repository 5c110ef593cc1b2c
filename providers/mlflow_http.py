"""The REST fast path for `http(s)://` tracking servers (reads only; writes use MlflowClient).

Same endpoints and authentication variables as MLflow's own client (MLFLOW_TRACKING_USERNAME /
_PASSWORD, MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH,
MLFLOW_TRACKING_CLIENT_CERT_PATH), pooled keep-alive connections per thread, and retries with
backoff on 429/5xx and dropped connections.
"""

from __future__ import annotations

import os
import threading

from planner import redact
from planner.model import LiveModel, LiveRun, LiveVersion
from providers.base import BackendError
from providers.mlflow_read import MODELS_PAGE, RUNS_PAGE, VERSION_ORDER, VERSIONS_PAGE, RegistryReader

API = "/api/2.0/mlflow"


def _kv(items) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or ()}


def _version(d: dict) -> LiveVersion:
    return LiveVersion(name=d["name"], version=str(d["version"]), source=d.get("source", ""),
                       run_id=d.get("run_id") or None, description=d.get("description", ""),
                       tags=_kv(d.get("tags")), model_id=d.get("model_id") or None, user_id=d.get("user_id") or None,
                       created=_int(d.get("creation_timestamp")), last_updated=_int(d.get("last_updated_timestamp")))


def _model(d: dict) -> LiveModel:
    return LiveModel(name=d["name"], description=d.get("description", ""), tags=_kv(d.get("tags")),
                     aliases={a["alias"]: str(a["version"]) for a in d.get("aliases", ())},
                     last_updated=_int(d.get("last_updated_timestamp")))


def _int(v):
    return int(v) if v is not None else None


class HttpReader(RegistryReader):
    def __init__(self, base_url: str, threads: int | None = None):
        self.base = base_url.rstrip("/")
        self.threads = threads or int(os.environ.get("MLREG_READ_THREADS", "4"))
        self._local = threading.local()

    def _session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            s = requests.Session()
            retry = Retry(total=5, backoff_factor=0.2, status_forcelist=(429, 500, 502, 503, 504),
                          allowed_methods=None, raise_on_status=False)
            s.mount("http://", HTTPAdapter(max_retries=retry))
            s.mount("https://", HTTPAdapter(max_retries=retry))
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

    def _call(self, method: str, path: str, **kw) -> dict:
        import requests

        url = f"{self.base}{API}{path}"
        try:
            r = self._session().request(method, url, timeout=120, **kw)
        except requests.RequestException as e:
            raise BackendError(f"Cannot reach MLflow at {redact.url(self.base)}: {type(e).__name__}") from None
        if r.status_code != 200:
            try:
                body = r.json()
                msg = f"{body.get('error_code', r.status_code)}: {body.get('message', '')}"
            except ValueError:
                msg = f"HTTP {r.status_code}"
            raise BackendError(f"MLflow at {redact.url(self.base)} refused {path}: {redact.redact(msg)}")
        return r.json()

    def _pages(self, method: str, path: str, key: str, params: dict) -> list[dict]:
        out, token = [], None
        while True:
            p = dict(params, page_token=token) if token else params
            body = self._call(method, path, **({"params": p} if method == "GET" else {"json": p}))
            out.extend(body.get(key, ()))
            token = body.get("next_page_token")
            if not token:
                return out

    def search_models(self, flt):
        params = {"max_results": MODELS_PAGE, **({"filter": flt} if flt else {})}
        return [_model(d) for d in self._pages("GET", "/registered-models/search", "registered_models", params)]

    def search_versions(self, flt):
        params = {"max_results": VERSIONS_PAGE, "order_by": VERSION_ORDER, **({"filter": flt} if flt else {})}
        return [_version(d) for d in self._pages("GET", "/model-versions/search", "model_versions", params)]

    def search_experiments(self):
        found = self._pages("POST", "/experiments/search", "experiments", {"max_results": 1000})
        return {e["experiment_id"]: e["name"] for e in found}

    def search_runs(self, experiment_ids, flt, names):
        body = {"experiment_ids": experiment_ids, "max_results": RUNS_PAGE, **({"filter": flt} if flt else {})}
        out = []
        for r in self._pages("POST", "/runs/search", "runs", body):
            info, data = r.get("info", {}), r.get("data", {})
            out.append(LiveRun(run_id=info["run_id"], experiment_id=info["experiment_id"],
                               experiment_name=names.get(info["experiment_id"], ""), run_name=info.get("run_name", ""),
                               params=_kv(data.get("params")),
                               metrics={m["key"]: float(m["value"]) for m in data.get("metrics", ())},
                               tags=_kv(data.get("tags")), user_id=info.get("user_id") or None))
        return out

    def search_logged_models(self, experiment_ids):
        found = self._pages("POST", "/logged-models/search", "models",
                            {"experiment_ids": experiment_ids, "max_results": 1000})
        return [(m["info"]["model_id"], m["info"].get("name", ""), m["info"].get("source_run_id", "")) for m in found]

    def list_artifacts(self, run_id, path=None):
        body = self._call("GET", "/artifacts/list", params={"run_id": run_id, **({"path": path} if path else {})})
        return [f["path"] for f in body.get("files", ())]
