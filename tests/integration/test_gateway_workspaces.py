"""AI Gateway resources live in the file's workspace, like the rest: two teams declare the same
secret, model definition and endpoint names, each in its own workspace of one server, and each
sees only its own."""

from __future__ import annotations

import pytest

from tests.support.gateway import ByHand
from tests.support.workspace import Workspace

pytestmark = pytest.mark.integration


def test_gateway_resources_live_in_the_files_workspace(workspace_server, services, tmp_path):
    teams = {}
    for team in ("gw-a", "gw-b"):
        w = Workspace(tmp_path / team, workspace_server.url, services.database_url)
        w.path.mkdir()
        space = f"{team}-{w.tag}"
        w.write(
            {
                "workspace": space,
                "workspaces": {space: {"description": f"the {team} team"}},
                "gateway": {
                    "secrets": {"key": {"provider": "openai", "value": {"api_key": "${GW_WS_KEY}"}}},
                    "models": {"gpt": {"secret": "key", "provider": "openai", "model": f"gpt-4o-{team}"}},
                    "endpoints": {"chat": {"routes": [{"model": "gpt", "weight": 100}]}},
                },
            }
        )
        env = {**w.env, "GW_WS_KEY": f"sk-{team}-value-0123456789"}
        w.run("apply", "--auto-approve", env=env, check=0)
        teams[team] = (w, space, env)
    for team, (w, space, env) in teams.items():
        hand = ByHand(workspace_server.url, workspace=space)
        endpoint = hand.call("GET", "endpoints/get", {"name": "chat"})["endpoint"]
        (mapping,) = endpoint["model_mappings"]
        found = hand.call("GET", "model-definitions/get", {"model_definition_id": mapping["model_definition_id"]})
        assert found["model_definition"]["model_name"] == f"gpt-4o-{team}"  # its own, not the other's
        w.assert_converged(env=env)
