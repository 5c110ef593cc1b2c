"""The in-process transport for tracking URIs that are not `http(s)://` (the embedded
`sqlite:///mlflow.db` default, `databricks`, …): MLflow's own client and stores.

Read-only commands never create anything: a `sqlite:///` file that does not exist yet is an
empty registry (`exists()` is False) until an apply writes to it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mlreg.planner import redact
from mlreg.planner.kinds.registry import LiveModel, LiveRun, LiveVersion
from mlreg.planner.kinds.webhook import LiveWebhook
from mlreg.providers.mlflow.api import MlflowApiError, RunInfo

PAGE = 1000
VERSION_ORDER = ["name ASC", "version_number ASC"]


def sqlite_path(uri: str) -> Path | None:
    """The file behind a `sqlite:///…` URI (None for other schemes and in-memory databases)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _mapped(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kw):
        from mlflow.exceptions import MlflowException

        try:
            return fn(self, *args, **kw)
        except MlflowException as e:
            raise MlflowApiError(
                redact.redact(f"{self.target} refused {fn.__name__}: {e.message}"), e.error_code
            ) from None

    return wrapper


def _version(mv) -> LiveVersion:
    """MLflow's ModelVersion as the engine's live type."""
    return LiveVersion(
        name=mv.name,
        version=str(mv.version),
        source=mv.source or "",
        run_id=mv.run_id or None,
        description=mv.description or "",
        tags=dict(mv.tags or {}),
        model_id=getattr(mv, "model_id", None),
        user_id=mv.user_id or None,
        created=mv.creation_timestamp,
        last_updated=mv.last_updated_timestamp,
    )


def _webhook(w) -> LiveWebhook:
    return LiveWebhook(
        id=w.webhook_id,
        name=w.name,
        url=w.url,
        events=tuple(str(e) for e in w.events),
        description=w.description or "",
        status=str(w.status).lower(),
        last_updated=w.last_updated_timestamp,
    )


def _paged(call, **kw) -> list:
    out, token = [], None
    while True:
        page = call(page_token=token, **kw)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


class LocalApi:
    def __init__(self, tracking_uri: str):
        self.uri = tracking_uri
        self.target = f"MLflow store {redact.url(tracking_uri)}"
        self._client = None

    def exists(self) -> bool:
        path = sqlite_path(self.uri)
        return path is None or path.exists()

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    @property
    def store(self):
        return self.client._get_registry_client().store

    # -- reads -----------------------------------------------------------------------------------
    @_mapped
    def search_models(self, flt):
        return [
            LiveModel(
                name=m.name,
                description=m.description or "",
                tags=dict(m.tags or {}),
                aliases={a: str(v) for a, v in (m.aliases or {}).items()},
                last_updated=m.last_updated_timestamp,
            )
            for m in _paged(self.client.search_registered_models, filter_string=flt, max_results=PAGE)
        ]

    @_mapped
    def search_versions(self, flt):
        return [
            _version(mv)
            for mv in _paged(
                self.client.search_model_versions, filter_string=flt, max_results=200_000, order_by=VERSION_ORDER
            )
        ]

    @_mapped
    def search_experiments(self):
        return {e.experiment_id: e.name for e in _paged(self.client.search_experiments, max_results=PAGE)}

    @_mapped
    def search_runs(self, experiment_ids, flt, names):
        return [
            LiveRun(
                run_id=r.info.run_id,
                experiment_id=r.info.experiment_id,
                experiment_name=names.get(r.info.experiment_id, ""),
                run_name=r.info.run_name or "",
                params=dict(r.data.params),
                metrics=dict(r.data.metrics),
                tags=dict(r.data.tags),
                user_id=r.info.user_id or None,
            )
            for r in _paged(self.client.search_runs, experiment_ids=experiment_ids, filter_string=flt, max_results=PAGE)
        ]

    @_mapped
    def search_logged_models(self, experiment_ids):
        return [
            (m.model_id, m.name, m.source_run_id)
            for m in _paged(self.client.search_logged_models, experiment_ids=experiment_ids, max_results=PAGE)
        ]

    @_mapped
    def list_artifacts(self, run_id, path=None):
        return [a.path for a in self.client.list_artifacts(run_id, path)]

    @_mapped
    def get_run(self, run_id):
        run = self.client.get_run(run_id)
        outputs = run.outputs.model_outputs if run.outputs is not None else []
        return RunInfo(run_id, run.info.experiment_id, run.info.artifact_uri, {o.model_id: o.step for o in outputs})

    # -- writes ----------------------------------------------------------------------------------
    @_mapped
    def create_model(self, name, tags, description):
        self.client._get_registry_client().create_registered_model(name, tags=tags or None, description=description)

    @_mapped
    def update_model(self, name, description):
        self.client._get_registry_client().update_registered_model(name, description)

    @_mapped
    def set_model_tag(self, name, key, value):
        self.client._get_registry_client().set_registered_model_tag(name, key, value)

    @_mapped
    def delete_model_tag(self, name, key):
        self.client._get_registry_client().delete_registered_model_tag(name, key)

    @_mapped
    def set_alias(self, name, alias, version):
        self.client._get_registry_client().set_registered_model_alias(name, alias, str(version))

    @_mapped
    def delete_alias(self, name, alias):
        self.client._get_registry_client().delete_registered_model_alias(name, alias)

    @_mapped
    def delete_model(self, name):
        self._absent_ok(self.client._get_registry_client().delete_registered_model, name)

    @_mapped
    def create_version(self, name, source, run_id, tags, description, model_id):
        mv = self.client._get_registry_client().create_model_version(
            name=name, source=source, run_id=run_id, tags=tags or None, description=description, model_id=model_id
        )
        return _version(mv)

    @_mapped
    def update_version(self, name, version, description):
        self.client._get_registry_client().update_model_version(name, str(version), description)

    @_mapped
    def set_version_tag(self, name, version, key, value):
        self.client._get_registry_client().set_model_version_tag(name, str(version), key, value)

    @_mapped
    def delete_version_tag(self, name, version, key):
        self.client._get_registry_client().delete_model_version_tag(name, str(version), key)

    @_mapped
    def delete_version(self, name, version):
        self._absent_ok(self.client._get_registry_client().delete_model_version, name, str(version))

    # -- webhooks ------------------------------------------------------------------------------------
    @_mapped
    def list_webhooks(self):
        return [_webhook(w) for w in _paged(self.store.list_webhooks, max_results=1000)]

    @_mapped
    def create_webhook(self, name, url, events, description, status, secret):
        from mlflow.entities.webhook import WebhookEvent, WebhookStatus

        w = self.store.create_webhook(
            name=name,
            url=url,
            events=[WebhookEvent(*e.split(".")) for e in events],
            description=description,
            secret=secret or None,
            status=WebhookStatus(status.upper()),
        )
        return _webhook(w)

    @_mapped
    def update_webhook(self, webhook_id, fields):
        from mlflow.entities.webhook import WebhookEvent, WebhookStatus

        kw = dict(fields)
        if "events" in kw:
            kw["events"] = [WebhookEvent(*e.split(".")) for e in kw["events"]]
        if "status" in kw:
            kw["status"] = WebhookStatus(kw["status"].upper())
        self.store.update_webhook(webhook_id, **kw)

    @_mapped
    def delete_webhook(self, webhook_id):
        self._absent_ok(self.store.delete_webhook, webhook_id)

    @staticmethod
    def _absent_ok(fn, *args):
        from mlflow.exceptions import MlflowException

        try:
            fn(*args)
        except MlflowException as e:
            if e.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
