"""The REST transport for `http(s)://` tracking servers: mlreg's own timeouts and retry budget
(never MLflow's client defaults of 7 retries for every method).

- Every request has a timeout (connect 10 s; read: what is left of the backend timeout).
- Idempotent requests (every read, tag and alias writes, updates, deletes) are retried with
  backoff on dropped connections, timeouts, 429 and 5xx, until the backend timeout; a request
  that never left this machine (connection refused) is retried even when it is not idempotent.
- A create that got no clear answer raises `AmbiguousWrite`: `Transport.create_once` re-reads and
  adopts what the server made, and sends it again only when nothing was. Never retried blindly.
Credentials and TLS settings are given by the wiring (`Credentials`), which decides whether the
environment's credentials may go to this server at all; the workspace, when set, goes in MLflow's
`X-MLFLOW-WORKSPACE` header on every request.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from mlreg.planner import redact
from mlreg.planner.errors import AmbiguousWrite, BackendError
from mlreg.planner.patience import CONNECT_TIMEOUT, Patience
from mlreg.providers.deadline import DeadlinePassed, within
from mlreg.providers.mlflow.transport import Call, MlflowApiError, Transport, WorkspaceMissing

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"


@dataclass(frozen=True)
class Credentials:
    """What MLflow's own client reads from MLFLOW_TRACKING_*: a token or a user and password, and
    TLS settings. `repr` never shows the secrets."""

    token: str | None = None
    username: str | None = None
    password: str | None = None
    insecure_tls: bool = False
    server_cert: str | None = None
    client_cert: str | None = None
    # the login variables set in the environment (names only, for a refused login's message), and
    # whether they were kept from this server (it is not the one the environment names)
    names: tuple[str, ...] = ()
    withheld: bool = False

    def __repr__(self) -> str:
        return f"Credentials(token={'***' if self.token else None}, username={self.username!r})"

    @classmethod
    def from_env(cls, env) -> Credentials:
        return cls(
            token=env.get("MLFLOW_TRACKING_TOKEN") or None,
            username=env.get("MLFLOW_TRACKING_USERNAME") or None,
            password=env.get("MLFLOW_TRACKING_PASSWORD") or None,
            insecure_tls=env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true",
            server_cert=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None,
            client_cert=env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None,
            names=tuple(n for n in LOGIN_VARIABLES if env.get(n)),
        )

    @property
    def secret(self) -> bool:
        return bool(self.token or self.password)

    def without_secrets(self) -> Credentials:
        kept = {"names": self.names, "withheld": True}
        return Credentials(insecure_tls=self.insecure_tls, server_cert=self.server_cert, **kept)

    def refused(self, status: int) -> str:
        """Why a server said 401 / 403, in terms of the variables set (names only)."""
        if not self.names:
            return f"none of {', '.join(LOGIN_VARIABLES)} is set"
        names = " and ".join(self.names)
        verb, them = ("is", "it") if len(self.names) == 1 else ("are", "them")
        if self.withheld:
            return f"{names} {verb} set, but not sent: credentials go only to the server MLFLOW_TRACKING_URI names"
        if status == 401:
            return f"{names} {verb} set; the server refused {them}"
        return f"{names} {verb} set; the server accepted {them} but refused this request to that login"


LOGIN_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def _never_sent(exc) -> bool:
    """A connection that was never made: the server cannot have acted on the request."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class RestTransport(Transport):
    lacks = frozenset()  # a server carries every call
    concurrent_reads = True

    def __init__(
        self,
        base_url: str,
        patience: Patience | None = None,
        credentials: Credentials | None = None,
        workspace: str | None = None,
    ):
        self.base = _base(base_url)
        self.target = f"MLflow at {redact.url(self.base)}" + (f" (workspace {workspace})" if workspace else "")
        self.patience = patience or Patience(self.target, hint="; check the server, then run `mlreg plan` again")
        self.credentials = credentials or Credentials()
        self.workspace = workspace
        self._local = threading.local()

    @property
    def budget(self) -> float:
        return self.patience.budget

    def _session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            import requests
            from requests.adapters import HTTPAdapter

            s = requests.Session()
            # An auth that adds nothing: requests would otherwise send ~/.netrc's credentials for
            # whatever host the file names (proxies and CA bundles from the environment still apply).
            s.auth = _no_auth
            adapter = HTTPAdapter(max_retries=0, pool_maxsize=32)  # retries are ours (see _send)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            c = self.credentials
            if c.token:
                s.headers["Authorization"] = f"Bearer {c.token}"
            elif c.username:
                s.auth = (c.username, c.password or "")
            if c.insecure_tls:
                s.verify = False
            elif c.server_cert:
                s.verify = c.server_cert
            if c.client_cert:
                s.cert = c.client_cert
            self._local.session = s
        return s

    def _send(self, endpoint: Call, body: dict) -> dict:
        import requests

        path, body = endpoint.fill(body)
        method = endpoint.method
        url = f"{self.base}{path}"
        kw = {"params": body} if method == "GET" else {"json": body}
        if self.workspace and endpoint.scoped:
            kw["headers"] = {WORKSPACE_HEADER: self.workspace}
        while True:
            started = time.monotonic()
            read_timeout = self.patience.attempt_timeout()
            try:
                r = self._attempt(method, url, (min(CONNECT_TIMEOUT, read_timeout), read_timeout), kw)
            except (requests.ConnectionError, requests.Timeout) as e:
                problem = type(e).__name__ if not e.args else f"{type(e).__name__}: {_short(e)}"
                if not endpoint.idempotent and not _never_sent(e):
                    raise AmbiguousWrite(f"{self.target}: no answer to {method} {path} ({problem})") from None
                time.sleep(self.patience.failed(started, problem))
                continue
            if r.status_code >= 500 or r.status_code == 429:
                error_code = _error_code(r)
                if r.status_code == 500 and error_code:  # MLflow answered with an application error
                    self.patience.ok()
                    raise self._refused(method, path, r)
                if r.status_code == 503 and "disabled because the server is running without" in r.text:
                    self.patience.ok()  # an answer, not a pause: this server lacks the feature
                    raise MlflowApiError(f"{self.target}: {r.text.strip()[:300]}", "FEATURE_DISABLED", 503)
                if not endpoint.idempotent:
                    raise AmbiguousWrite(f"{self.target}: HTTP {r.status_code} for {method} {path}")
                time.sleep(self.patience.failed(started, f"HTTP {r.status_code}"))
                continue
            self.patience.ok()
            if r.status_code in (401, 403):  # a login refused: never retried, said at once
                raise self._login_refused(method, path, r)
            if r.status_code not in (200, 201, 204):
                raise self._refused(method, path, r)
            try:
                return r.json() if r.content else {}
            except ValueError:
                raise MlflowApiError(
                    f"{self.target} answered {method} {path} with something that is not JSON", status=r.status_code
                ) from None

    def _attempt(self, method: str, url: str, timeout: tuple[float, float], kw: dict):
        """One request, its whole answer read within the attempt's time (a server that trickles
        its answer or never ends it is given up on: socket timeouts bound each read only), and
        never more than MAX_RESPONSE_BYTES of it."""
        import requests

        session = self._session()
        try:
            return within(sum(timeout), lambda: _fetch(session, method, url, timeout, kw, self.target))
        except DeadlinePassed as e:
            self._local.session = None  # the abandoned request still holds it
            raise requests.Timeout(str(e)) from None

    def _login_refused(self, method: str, path: str, r) -> MlflowApiError:
        """One line, the reason first: who refused, and which login variables were set."""
        code = _api_error(self.target, method, path, r).error_code
        what = "refused the login" if r.status_code == 401 else f"refused {method} {path} (permission denied)"
        why = self.credentials.refused(r.status_code)
        return MlflowApiError(redact.redact(f"{self.target} {what} (HTTP {r.status_code}): {why}"), code, r.status_code)

    def _refused(self, method: str, path: str, r) -> BackendError:
        """MLflow's refusal, said plainly where it is about the server rather than the request."""
        error = _api_error(self.target, method, path, r)
        message = str(error)
        if self.workspace and error.error_code == "FEATURE_DISABLED" and "orkspace" in message:
            return BackendError(
                f"{self.target}: the server runs without workspaces, and registry.yaml names workspace "
                f"{self.workspace!r}; start it with `mlflow server --enable-workspaces`, or remove `workspace:`"
            )
        if (
            self.workspace
            and error.error_code == "RESOURCE_DOES_NOT_EXIST"
            and f"Workspace '{self.workspace}'" in message
        ):
            return WorkspaceMissing(f"workspace {self.workspace!r} does not exist on {self.target}")
        return error


def _base(url: str) -> str:
    """The server's base URL, rebuilt from the parts planner/urls.py accepted, and read back by
    urllib3 (which requests connects with) as the same host and port: a URL two parsers read
    differently never gets here, and this makes sure of it."""
    from urllib3.util import parse_url

    from mlreg.planner import urls

    parsed = urls.parse_mlflow(url)
    if parsed.family not in ("http", "https"):
        raise urls.UrlRefused(f"{redact.url(url)}: not an http(s) URL")
    base = parsed.http_base()
    seen = parse_url(base)
    if (seen.host or "").strip("[]").lower() != parsed.host or seen.port != parsed.port:
        raise urls.UrlRefused(f"{redact.url(url)}: read differently by the HTTP library; refused")
    return base


def max_response_bytes() -> int:
    try:
        return int(os.environ.get("MLREG_MAX_RESPONSE_BYTES", 1 << 30))
    except ValueError:
        return 1 << 30


def _fetch(session, method: str, url: str, timeout, kw: dict, target: str):
    """The response with its body read (at most `max_response_bytes`)."""
    r = session.request(method, url, timeout=timeout, stream=True, allow_redirects=False, **kw)
    cap = max_response_bytes()
    body = bytearray()
    try:
        for chunk in r.iter_content(1 << 16):
            body += chunk
            if len(body) > cap:
                raise BackendError(
                    f"{target} sent an answer over {cap:,} bytes to {method} {r.request.path_url.split('?')[0]}; "
                    "refused (MLREG_MAX_RESPONSE_BYTES raises the limit)"
                )
    finally:
        r.close()
    r._content, r._content_consumed = bytes(body), True
    return r


def _no_auth(request):
    return request


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
    if r.status_code in (401, 403) and not code:
        code = "PERMISSION_DENIED" if r.status_code == 403 else "UNAUTHENTICATED"
    return MlflowApiError(
        redact.redact(f"{target} refused {method} {path}: {code or r.status_code}: {msg}"), code, r.status_code
    )
