"""Every grant table is derived from the kinds' `Grant`: what the catalog's kinds declare, and a
kind MLflow grants on by id (the gateway's) mapping the names the file gives to the ids a grant is
written on, and back."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from mlreg.planner.config.load import load_config
from mlreg.planner.kinds.base import DiffContext, Kind
from mlreg.planner.kinds.catalog import GRANTS, KINDS
from mlreg.planner.kinds.grants import Grant, Grants
from mlreg.planner.kinds.role_permission import KIND as GRANT_KIND
from tests.unit.engine_support import live_from, state_from


class ById(Kind):
    """A stand-in for a kind whose grants MLflow keys by id: `chat` is `e-1` live."""

    type: ClassVar[str] = "stand_in_endpoint"
    grant: ClassVar[Grant] = Grant("gateway_endpoint", expands=False)
    IDS: ClassVar[dict[str, str]] = {"chat": "e-1"}

    def declared_names(self, cfg) -> list[str]:
        return ["chat", "new_one"]

    def granted_as(self, name, live):
        return self.IDS.get(name)

    def grant_name(self, pattern, live):
        return {v: k for k, v in self.IDS.items()}.get(pattern, pattern)


def test_the_grant_table_is_the_kinds_own():
    # derived from the kinds' own `grant` (a kind that grants adds itself, editing no table or test)
    assert {t: k.type for t, k in GRANTS.kinds.items()} == {
        k.grant.resource_type: k.type for k in KINDS.values() if k.grant is not None
    }
    assert {"registered_model": "model", "prompt": "prompt"}.items() <= {
        t: k.type for t, k in GRANTS.kinds.items()
    }.items()
    assert GRANTS.expandable() == tuple(t for t, k in GRANTS.kinds.items() if k.grant.expands)
    assert all(KINDS[k.type].grant is not None for k in GRANTS.kinds.values())


def test_a_kind_granted_on_by_id_maps_names_to_ids_both_ways(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            access:
              roles:
                users:
                  permissions:
                    - {resource_type: gateway_endpoint, resource_pattern: chat, permission: USE}
                    - {resource_type: gateway_endpoint, resource_pattern: new_one, permission: USE}
            """
        )
    )
    loaded, diags = load_config(path, env={})
    assert not diags, diags
    live = live_from({"roles": {"users": {"id": 7, "permissions": [[3, "gateway_endpoint", "e-1", "USE"]]}}})
    grants = Grants.of([*KINDS.values(), ById()])
    ctx = DiffContext(cfg=loaded.config, live=live, state=state_from(None), grants=grants)
    GRANT_KIND.diff(ctx)
    (change,) = ctx.changes
    # kept by name in the address, written on the id: the live grant on e-1 is this one, not one added by hand
    assert change.address == "role_permission.users[gateway_endpoint:chat]"
    assert change.identity["pattern"] == "e-1" and change.action.value == "no-op"
    (error,) = ctx.diagnostics
    assert "'new_one' has no id yet" in error.summary
    assert grants.needs(loaded.config, live) == []  # it declares no need (Grant.needs is None)


def test_a_glob_on_a_resource_type_no_kind_expands_is_refused_at_its_line(tmp_path):
    """The `access:` check learns the expandable types from the kinds (through the loader), and
    reports the glob whether or not the rest of the role is valid."""
    for other in ("", "\n        - {resource_type: model, resource_pattern: '*', permission: READ}"):
        path = tmp_path / "registry.yaml"
        path.write_text(
            "version: 1\naccess:\n  roles:\n    r:\n      permissions:\n"
            "        - {resource_type: experiment, resource_pattern: 'exp_*', permission: READ}" + other + "\n"
        )
        _, diags = load_config(path, env={})
        expandable = ", ".join(GRANTS.expandable())
        globs = [d for d in diags if f"glob patterns are expanded only for {expandable};" in d.summary]
        assert [(d.line, d.key_path) for d in globs] == [(6, "access.roles.r.permissions[0]")], diags
