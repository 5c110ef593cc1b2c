"""What the MLflow provider's per-kind modules talk to: calls to MLflow's REST endpoints, each
defined once, carried by one of two transports.

A `Call` is one MLflow REST request (method, path, whether it is idempotent) together with the
same request against MLflow's in-process client (`local`), which answers with the JSON the REST
API would. `rest.RestTransport` sends calls over HTTP to `http(s)://` tracking servers (plain
REST, mlreg's own timeouts and retries); `local.LocalTransport` runs their local form for every
other tracking URI (the embedded `sqlite:///` default). So a per-kind module reads and writes
through `call(endpoint, body)` and never knows which transport it has; a create that is not
idempotent goes through `create_once`, the one place that keeps the write promise.

What a transport cannot do is declared in `lacks` (the in-process store has no "workspaces" and
no "access"), never detected: a kind whose calls a transport cannot carry says so in one line. A
new kind's capability (the gateway's) needs no line here: a transport serves it unless it says
otherwise, and a call without an in-process form is refused by the local transport by itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlreg.planner.errors import AmbiguousWrite, BackendError, BackendUnavailable

ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"


class MlflowApiError(BackendError):
    """MLflow answered and refused: `error_code` is MLflow's (RESOURCE_ALREADY_EXISTS, …)."""

    def __init__(self, message: str, error_code: str = "", status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class WorkspaceMissing(BackendError):
    """The file's workspace does not exist (yet): what is read inside it reads as empty."""


@dataclass(frozen=True)
class Call:
    """One MLflow REST request. `path` may hold `{field}`s, filled from (and taken out of) the body.
    `idempotent`: sending it twice does no harm (so a lost answer may be retried); creates are not.
    `absent_ok`: already gone counts as done (deletes). `local(client, body)`: the same request
    on MLflow's in-process client, answering with REST's JSON (None: REST only). `scoped`: sent
    with the file's workspace (MLflow's workspace header); server-wide endpoints are not."""

    method: str
    path: str
    capability: str = "registry"
    idempotent: bool = True
    absent_ok: bool = False
    local: Callable[[Any, dict], dict] | None = None
    scoped: bool = True  # inside the file's workspace (False: server-wide, such as workspaces and users)

    def fill(self, body: dict) -> tuple[str, dict]:
        """The path with its `{field}`s filled, and the rest of the body."""
        if "{" not in self.path:
            return self.path, body
        rest = dict(body)
        path = self.path
        while "{" in path:
            start = path.index("{")
            end = path.index("}", start)
            name = path[start + 1 : end]
            path = path[:start] + str(rest.pop(name)) + path[end + 1 :]
        return path, rest


@dataclass(frozen=True)
class Created:
    """How a create ended (`Transport.create_once`): the server's answer, or what reading back
    found in its place (`answer` None). `resent`: the create was sent more than once, so an
    earlier attempt may still land late (the caller keeps exactly one where it can tell)."""

    answer: dict | None = None
    found: Any = None
    resent: bool = False


class Transport:
    """The shared part of both transports: what they are, deletes that find nothing, and the one
    way a create that is not idempotent is sent (`create_once`)."""

    target: str = ""  # what it talks to, for people (password masked)
    lacks: frozenset[str] = frozenset()  # the capabilities of calls it cannot carry
    concurrent_reads: bool = False  # reads may run on several threads (a server, not an in-process store)
    budget: float = 0.0  # seconds a write that got no clear answer may keep being resolved (the backend timeout)
    workspace: str | None = None  # the file's MLflow workspace (sent with every scoped endpoint)

    def resend_wait(self, started: float, attempt: int, problem: str) -> float:
        """How long to wait before resolving a create that got no clear answer once more (re-read,
        then send again with the same token), or BackendUnavailable once the backend timeout has
        passed since its first attempt (`started`). A 503 or 429 is the server saying "not now"."""
        elapsed = time.monotonic() - started
        if elapsed >= self.budget:
            raise BackendUnavailable(
                f"{self.target} gave no clear answer to a create for {elapsed:.0f} s ({problem}); "
                "check the server, then run `mlreg plan` again"
            )
        return min(0.25 * 2 ** min(attempt, 5), 5.0, self.budget - elapsed)

    def create_once(
        self, call: Call, body: dict, find: Callable[[], Any], exists_ok: bool = False, send=None
    ) -> Created:
        """The write promise, once for every create: send it; when its answer is lost
        (`AmbiguousWrite`), read back (`find()`: what it made, or None) and return what an earlier
        attempt made; send it again (the same body) only when nothing was made, until the backend
        timeout (`resend_wait`). `exists_ok`: MLflow's "already exists" also counts as made (a
        name mlreg adopts: models, workspaces), and `find()` says what is there. `send(call,
        body)`: how to send it (default `self.call`; the access app's calls say a server without
        it in one line)."""
        send = send or self.call
        started, attempt = time.monotonic(), 0
        while True:
            try:
                return Created(answer=send(call, body), resent=attempt > 0)
            except MlflowApiError as e:
                if exists_ok and e.error_code == ALREADY_EXISTS:
                    return Created(found=find(), resent=attempt > 0)
                raise
            except AmbiguousWrite as e:
                made = find()
                if made is not None:
                    return Created(found=made, resent=attempt > 0)
                time.sleep(self.resend_wait(started, attempt, str(e)))
                attempt += 1

    def exists(self) -> bool:
        """False for an embedded store that does not exist yet (read as empty; apply creates it)."""
        return True

    def serves(self, capability: str) -> bool:
        return capability not in self.lacks

    def call(self, endpoint: Call, body: dict | None = None) -> dict:
        if not self.serves(endpoint.capability):
            raise BackendError(f"{self.target} cannot serve {endpoint.capability} ({endpoint.method} {endpoint.path})")
        try:
            return self._send(endpoint, dict(body or {}))
        except MlflowApiError as e:
            if endpoint.absent_ok and e.error_code == DOES_NOT_EXIST:
                return {}
            raise

    def _send(self, endpoint: Call, body: dict) -> dict:
        raise NotImplementedError

    def pages(self, endpoint: Call, body: dict, key: str) -> list[dict]:
        """Every page of a paged search or listing, following its page tokens. A server that
        never stops paging (a token it gave before, or pages for longer than the backend timeout)
        is given up on with one line."""
        out, token, seen = [], None, set()
        started = time.monotonic()
        while True:
            page = self.call(endpoint, {**body, "page_token": token} if token else body)
            out.extend(page.get(key) or ())
            token = page.get("next_page_token")
            if not token:
                return out
            if token in seen or (self.budget and time.monotonic() - started > self.budget):
                why = (
                    "gave a page token it had given before" if token in seen else f"kept paging for {self.budget:.0f} s"
                )
                raise BackendUnavailable(
                    f"{self.target} {why} ({endpoint.method} {endpoint.path}, {len(seen) + 1} pages); "
                    "check the server, then run `mlreg plan` again"
                )
            seen.add(token)
