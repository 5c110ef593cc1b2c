"""`user.NAME`: a user of MLflow's basic-auth app that mlreg makes sure exists (declared under
`access.users`): created with the password from the environment, `admin` kept as declared. mlreg
never deletes users.

MLflow never returns a password: state keeps only a keyed hash of the one last applied (as for
webhook secrets; planner/secrets.py), so a rotated password shows as `~ password = (sensitive value)` and is
applied. A user declared without a password must already exist (its password is not managed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from mlreg.planner.changes import Action, Change, address
from mlreg.planner.config.defaults import DEFAULT_WORKSPACE
from mlreg.planner.kinds.access_facts import SECTION, AccessFacts, AccessRequest, access_request
from mlreg.planner.kinds.base import DiffContext, Kind, created, decide
from mlreg.planner.kinds.mlflow_facts import PROVIDER
from mlreg.planner.live import LiveSnapshot
from mlreg.planner.recorded import ResourceState

if TYPE_CHECKING:
    from mlreg.planner.config.schema import Config
    from mlreg.planner.config.sections.removed import RemovedSpec

TYPE = "user"


MIN_PASSWORD = 12  # MLflow's rule (mlflow.utils.validation._validate_password)


class UserKind(Kind):
    type: ClassVar[str] = TYPE
    entries: ClassVar[tuple[str, ...]] = ("access", "users")
    provider: ClassVar[str] = PROVIDER
    rank: ClassVar[int] = -5  # before the roles that list them as members
    keyed: ClassVar[bool] = False
    sensitive: ClassVar[tuple[str, ...]] = ("password",)
    section: ClassVar[str] = SECTION

    def declared_requests(self, cfg: Config) -> Iterable[AccessRequest]:
        if cfg.access.users or cfg.access.roles:
            yield access_request(cfg)

    def recorded_requests(self, resources) -> Iterable[AccessRequest]:
        if resources:
            yield AccessRequest(workspaces=frozenset({DEFAULT_WORKSPACE}))

    def diff(self, ctx: DiffContext) -> None:
        facts = ctx.live[AccessFacts]
        for name, spec in ctx.cfg.access.users.items():
            addr = address(TYPE, name)
            recorded = ctx.state.resources.get(addr)
            live = facts.users.get(name)
            after: dict = {"admin": spec.admin}
            secrets = {}
            if spec.password and len(spec.password) < MIN_PASSWORD:
                ctx.error(
                    f"The password of user {name!r} is shorter than MLflow's minimum of {MIN_PASSWORD} characters",
                    "set a longer one in the environment variable the file names (it is not shown)",
                    addr,
                )
                continue
            if spec.password:
                kept = recorded.attributes.get("password") if recorded else None
                after["password"] = ctx.hasher.keep(spec.password, kept, f"mlreg/user/{name}")
                secrets["password"] = spec.password
            if live is None:
                if not spec.password:
                    ctx.error(
                        f"User {name!r} does not exist, and no password is declared to create it",
                        "give it `password: ${VAR}` (read from the environment), or create it in MLflow",
                        addr,
                    )
                    continue
                ctx.changes.append(
                    created(addr, TYPE, after, recorded, identity={"name": name, "id": None}, secrets=secrets)
                )
                continue
            before: dict = {"admin": live.admin}
            if "password" in after or (recorded and "password" in recorded.attributes):
                # MLflow never returns a password: what was last applied stands for it
                before["password"] = recorded.attributes.get("password") if recorded else None
            ctx.changes.append(
                decide(addr, TYPE, before, after, recorded, {"name": name, "id": live.id}, secrets=secrets)
            )

    def destroy(self, ctx: DiffContext, addr: str, name: str, key: str | None, entry: RemovedSpec):
        ctx.error("mlreg never deletes users", "take the user out of the file to stop managing it", addr)
        return None

    def access_note(self, change: Change) -> str | None:
        name = change.identity.get("name")
        if change.action is Action.CREATE:
            return f"user {name} is created" + (" as an admin" if change.after.get("admin") else "")
        if change.action is Action.UPDATE:
            notes = []
            if change.before.get("admin") != change.after.get("admin"):
                notes.append(f"user {name} {'becomes an admin' if change.after['admin'] else 'is no longer an admin'}")
            if change.before.get("password") != change.after.get("password"):
                notes.append(f"user {name} gets a new password")
            return "; ".join(notes) or None
        return None

    def live_values(self, rs: ResourceState, live: LiveSnapshot):
        found = live[AccessFacts].users.get(rs.identity.get("name"))
        if found is None:
            return None, None, None
        return {"admin": found.admin}, None, None

    def gone_note(self, rs: ResourceState) -> str:
        return "user no longer exists"


KIND = UserKind()
