"""`mlreg import`: write a registry.yaml from what is live, and adopt it into state."""

from __future__ import annotations

from pathlib import Path

import click

from mlreg.cli.app import Ctx, backend_timeout_option, guard, pass_ctx
from mlreg.planner.errors import ConfigInvalid

BACKENDS_TEMPLATE = """mlflow:
  tracking_uri: ${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}
database:
  url: ${MLREG_DATABASE_URL:-sqlite:///mlreg.db}
"""


def _backends_text(ctx: Ctx) -> str:
    """The backend sections of the current file as written (variables unexpanded), or the defaults."""
    import yaml

    if not Path(ctx.file).exists():
        return BACKENDS_TEMPLATE
    sections = ctx.loaded().raw_backends
    return yaml.safe_dump(sections, sort_keys=False) if sections else BACKENDS_TEMPLATE


def _parse(text: str, file: str, base_dir: str):
    from mlreg.planner.config.load import parse_config

    loaded, diags = parse_config(text.encode(), file, base_dir)
    if diags:
        raise ConfigInvalid(f"{file}: the generated file is not valid", diags)
    return loaded


@click.command("import")
@click.option("--model", "model_globs", multiple=True, metavar="NAME_OR_GLOB", help="Models to import (repeatable).")
@click.option(
    "--policy",
    "policy_globs",
    multiple=True,
    metavar="[NAME=]UUID_OR_GLOB",
    help="Policy ids to import (repeatable); NAME= names the policy in the file.",
)
@click.option("--prompt", "prompt_globs", multiple=True, metavar="NAME_OR_GLOB", help="Prompts to import (repeatable).")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
@backend_timeout_option
@pass_ctx
@guard
def import_(ctx: Ctx, model_globs, policy_globs, prompt_globs, out, lock_timeout, backend_timeout):
    """Write a registry.yaml from what is live, and adopt it into state."""
    from mlreg.cli import wiring
    from mlreg.planner.importer import render_registry
    from mlreg.planner.workflow import adopt, import_snapshot

    backends = _backends_text(ctx)
    base_dir = str(Path(out).resolve().parent) if out else str(Path(ctx.file).resolve().parent)
    boot = _parse("version: 1\n" + backends, out or ctx.file, base_dir)
    snap = import_snapshot(wiring.session(boot, backend_timeout), model_globs, policy_globs, prompt_globs)
    text = render_registry(snap.live, snap.models, snap.policies, backends, snap.prompts)
    loaded = _parse(text, out or ctx.file, base_dir)
    session = wiring.session(loaded, backend_timeout)
    result = adopt(session, snap.live, lock_timeout)  # the snapshot just read is what the file describes
    if out:
        Path(out).write_text(text)
        ctx.echo(
            f"Wrote {out}: {len(snap.models)} models, {len(result.done)} resources adopted into "
            f"{session.state.describe()} (serial {result.state.serial}).",
            err=True,
        )
    else:
        ctx.echo(text, nl=False)
