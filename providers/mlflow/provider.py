"""The MLflow provider: answers the registry's read requests and applies changes, dispatching by
request type and by resource kind through tables; anything it does not know is an error, never
silently routed elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlreg.planner.kinds.prompt import PromptRequest
from mlreg.planner.kinds.registry import PROVIDER, RegistryRequest
from mlreg.planner.kinds.webhook import WebhookRequest
from mlreg.planner.live import Request
from mlreg.planner.model import Change
from mlreg.providers.mlflow.models import ModelWrites
from mlreg.providers.mlflow.prompts import Prompts
from mlreg.providers.mlflow.reader import Reader
from mlreg.providers.mlflow.webhooks import Webhooks
from mlreg.providers.patience import Patience


def make_api(tracking_uri: str, backend_timeout: float | None = None):
    if tracking_uri.startswith(("http://", "https://")):
        from mlreg.providers.mlflow.rest import RestApi

        api = RestApi(tracking_uri)
        api.patience = Patience(api.target, backend_timeout, "; check the server, then run `mlreg plan` again")
        return api
    from mlreg.providers.mlflow.local import LocalApi

    return LocalApi(tracking_uri)


class MlflowProvider:
    name = PROVIDER

    def __init__(self, tracking_uri: str, backend_timeout: float | None = None, api=None):
        self.tracking_uri = tracking_uri
        self.api = api or make_api(tracking_uri, backend_timeout)
        self.reader = Reader(self.api)
        self._apply_id = "unset"
        models = ModelWrites(self.api, self.reader, lambda: self._apply_id)
        prompts = Prompts(self.api, self.reader, models)
        webhooks = Webhooks(self.api)
        self._readers: dict[type, Callable[[Any], Any]] = {
            RegistryRequest: self.reader.read,
            PromptRequest: prompts.read,
            WebhookRequest: webhooks.read,
        }
        self._writers: dict[str, Callable[[Change, str, Mapping[str, Any]], dict]] = {
            "model": models.model,
            "model_version": models.version,
            "prompt": prompts.prompt,
            "prompt_version": prompts.version,
            "webhook": webhooks.apply,
        }
        self._names: dict[str, Callable[[], list[str]]] = {
            "model": self.reader.list_model_names,
            "prompt": prompts.names,
        }

    def describe(self) -> str:
        return self.api.target

    def read(self, requests: Sequence[Request]) -> dict[type, Any]:
        out = {}
        for r in requests:
            reader = self._readers.get(type(r))
            if reader is None:
                raise TypeError(f"{self.name} cannot answer {type(r).__name__}")
            out[type(r).facts] = reader(r)
        return out

    def begin_apply(self, apply_id: str) -> None:
        self._apply_id = apply_id

    def apply(self, change: Change, phase: str, resolved: Mapping[str, Any]) -> Mapping[str, Any]:
        writer = self._writers.get(change.type)
        if writer is None:
            raise TypeError(f"{self.name} cannot apply {change.type} ({change.address})")
        return writer(change, phase, resolved)

    def apply_batch(self, changes, resolved):
        raise TypeError(f"{self.name} applies no batch kinds")

    def names(self, type_: str) -> list[str]:
        """Every live name of a kind (for `mlreg import`)."""
        lister = self._names.get(type_)
        if lister is None:
            raise TypeError(f"{self.name} cannot list {type_}")
        return lister()
