"""Every command and every option says what it does in `--help` (the CLI's own reference)."""

from __future__ import annotations

import click

import mlreg.cli  # noqa: F401  (registers the commands)
from mlreg.cli import app


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        yield f"{prefix}{name}", cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")


def test_every_command_and_option_has_help():
    missing = []
    for name, cmd in [("mlreg", app.main), *_commands(app.main)]:
        if not (cmd.help or "").strip():
            missing.append(name)
        for param in cmd.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{name} {param.opts[0]}")
    assert not missing, missing


def test_every_schema_field_has_a_description():
    """Editors show these when a key is hovered or completed (`mlreg schema`)."""
    from mlreg.planner.config.schema import Config

    doc = Config.model_json_schema()
    missing = []
    for name, node in [("Config", doc), *doc.get("$defs", {}).items()]:
        for key, prop in (node.get("properties") or {}).items():
            if not (prop.get("description") or "").strip():
                missing.append(f"{name}.{key}")
    assert not missing, missing
