"""`mlreg import`: write a registry.yaml from what is live, and adopt it into state."""

from __future__ import annotations

from pathlib import Path

import click

from mlreg.cli.app import Ctx, backend_timeout_option, lock_timeout_option, pass_ctx, reconfigure_option, reports_errors
from mlreg.planner.errors import ConfigInvalid, UserError
from mlreg.planner.kinds.catalog import importable

BACKENDS = {
    "mlflow": {"tracking_uri": "${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"},
    "database": {"url": "${MLREG_DATABASE_URL:-sqlite:///mlreg.db}"},
    "state": {"backend": "local", "path": ".mlreg/state.json"},
}


def _backends_text(ctx: Ctx) -> str:
    """The backend sections of the current file as written (variables unexpanded), each one it
    leaves out as the defaults write it: environment references, never their values."""
    import yaml

    written = ctx.loaded().raw_backends if Path(ctx.file).exists() else {}
    return yaml.safe_dump({k: written.get(k, v) for k, v in BACKENDS.items()}, sort_keys=False)


def _rules(ctx: Ctx):
    """The rules in effect: the current file's, or the defaults (the seed's)."""
    from mlreg.planner.config.sections.rules import Rules

    return ctx.loaded().config.rules if Path(ctx.file).exists() else Rules()


def _parse(text: str, file: str, base_dir: str):
    from mlreg.planner.config.load import parse_config

    loaded, diags = parse_config(text.encode(), file, base_dir)
    if diags:
        raise ConfigInvalid(f"{file}: the generated file is not valid", diags)
    return loaded


def _kind_options(command):
    """One option per importable kind (`--model`, `--policy`, …), from the catalog."""
    for kind in reversed(importable()):
        imp = kind.importer
        command = click.option(
            f"--{imp.option}", f"import_{kind.type}", multiple=True, metavar=imp.metavar, help=imp.help
        )(command)
    return command


@click.command("import")
@_kind_options
@click.option(
    "--out",
    "out",
    type=click.Path(),
    help="Write here instead of standard output: a file, or a folder (ending in /, or existing) to get one "
    "file per model and prompt plus a settings file.",
)
@click.option("--force", is_flag=True, help="Overwrite files that --out would replace.")
@lock_timeout_option
@backend_timeout_option
@reconfigure_option
@pass_ctx
@reports_errors
def import_(ctx: Ctx, out, force, lock_timeout, backend_timeout, reconfigure, **kind_patterns):
    """Write a registry.yaml (or a folder of files) from what is live, and adopt it into state."""
    from mlreg.cli import wiring
    from mlreg.planner.config.load import parse_files
    from mlreg.planner.importer import render_files, render_registry
    from mlreg.planner.workflow import adopt, import_snapshot
    from mlreg.state import files

    folder = bool(out) and (out.endswith("/") or Path(out).is_dir())
    target = Path(out) if out else None
    if target is not None and not force:
        taken = sorted(target.glob("*.y*ml")) if folder and target.is_dir() else ([target] if target.exists() else [])
        if taken:
            raise UserError(f"{taken[0]} exists; pass --force to overwrite it (import writes the whole file)")
    patterns = {k.type: kind_patterns.get(f"import_{k.type}") or () for k in importable()}
    backends = _backends_text(ctx)
    base_dir = str(target.resolve()) if folder else str((target or Path(ctx.file)).resolve().parent)
    boot = _parse("version: 1\n" + backends, out or ctx.file, base_dir)
    snap = import_snapshot(wiring.session(boot, backend_timeout), patterns)
    rules = _rules(ctx)
    if folder:
        made = render_files(snap.live, snap.chosen, backends, rules)
        written = {str(target / name): text for name, text in made.items()}
    else:
        written = {out or ctx.file: render_registry(snap.live, snap.chosen, backends, rules)}
    loaded, diags = parse_files([(n, t.encode()) for n, t in written.items()], out or ctx.file, base_dir, folder=folder)
    if diags:
        raise ConfigInvalid(f"{out or ctx.file}: the generated file is not valid", diags)
    # where the files go is settled (inside the folder, no links) before anything is adopted
    places = [files.within([Path(ctx.file).resolve().parent, Path.cwd()], n, "--out") for n in written] if out else []
    for path, within in places:
        files.refuse_links(path, within)
    session = wiring.session(loaded, backend_timeout, reconfigure=reconfigure)
    result = adopt(session, snap.live, lock_timeout)  # the snapshot just read is what the files describe
    if snap.not_asked:
        from mlreg.planner.kinds.catalog import kind_of

        left = ", ".join(
            f"{n} {kind_of(t).type}{'s' if n != 1 else ''} (--{kind_of(t).importer.option} '*')"
            for t, n in snap.not_asked.items()
        )
        ctx.echo(f"Not imported, since not asked for: {left}.", err=True)
    if out:
        for (path, within), text in zip(places, written.values(), strict=True):
            files.write_atomic(path, text, within, mode=0o644)  # files to commit: readable
        count = sum(len(c) for c in snap.chosen.values())
        where = f"{len(written)} files in {out}" if folder else out
        ctx.echo(
            f"Wrote {where}: {count} objects, {len(result.done)} resources adopted into "
            f"{session.state.describe()} (serial {result.state.serial}).",
            err=True,
        )
    else:
        ctx.echo(next(iter(written.values())), nl=False)
