"""The command group, its global options, and the one place that turns failures into exit codes.

Exit codes (binding): 0 success / nothing to do; 1 any error; 2 with --detailed-exitcode when
there are changes or drift.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings

import click

from mlreg import __version__
from mlreg.planner import redact
from mlreg.planner.errors import ConfigInvalid, MlregError, UserError
from mlreg.planner.render.escape import ci_safe

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class Ctx:
    def __init__(self, file: str, color: bool, debug: bool):
        self.file = file
        self.color = color
        self.debug = debug
        self._loaded = None

    def echo(self, text: str = "", err: bool = False, nl: bool = True) -> None:
        """The one place that prints: redacted, and no line begins with `::` (a CI command)."""
        click.echo(ci_safe(redact.redact(text)), err=err, nl=nl, color=self.color)

    def loaded(self, offline: bool = False, missing_ok: bool = False):
        """registry.yaml, validated; every error printed at once, then one line and exit 1.
        `offline` commands (validate, graph) accept unset `${VAR}` references. `missing_ok`
        (`db init`, `import`, `rules`): no file at all is the defaults (`version: 1`, the
        backends from the environment, as every MLflow tool reads them)."""
        from pathlib import Path

        from mlreg.planner.config.load import load_config, parse_config

        if self._loaded is None and missing_ok and not Path(self.file).exists():
            folder = Path(self.file).absolute().parent
            loaded, diags = parse_config(b"version: 1\n", self.file, str(folder.resolve()))
            if diags:  # the environment's own values are wrong (an MLFLOW_TRACKING_URI it refuses)
                raise ConfigInvalid(f"{self.file} does not exist, and the defaults are not valid", diags)
            self._loaded = loaded
        if self._loaded is None:
            loaded, diags = load_config(self.file, offline=offline)
            if diags:
                n = len(diags)
                raise ConfigInvalid(
                    f"{self.file}: {n} error{'s' if n != 1 else ''}; nothing was read or changed", diags
                )
            self._loaded = loaded
        return self._loaded


def reports_errors(fn):
    """Turn every failure into one clear line and exit 1; tracebacks only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx: Ctx | None = click.get_current_context().find_object(Ctx)
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `mlreg … | head`: the reader left; nothing to report
            sys.stderr.close()
            sys.exit(EXIT_OK)
        except Exception as e:  # the CLI's one place for it
            if isinstance(e, ConfigInvalid):
                from mlreg.planner.render.text import Style, diagnostics_text

                out = diagnostics_text(e.diagnostics, Style(ctx.color if ctx else False))
                click.echo(ci_safe(out), err=True, nl=False)
            if ctx is not None and ctx.debug:
                raise
            click.echo(ci_safe(redact.redact(f"Error: {error_message(e)}")), err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


def error_message(e: Exception) -> str:
    """What the CLI says about a failure, in one line (or in full, for ours)."""
    text = str(e).strip()
    if isinstance(e, MlregError):  # ours: said in full (a refused import shows its plan)
        return text or type(e).__name__
    # a bug or an unexpected library failure: one line, the rest with --debug
    first = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {first} (run with --debug for the traceback)"


class _Group(click.Group):
    """Global options are also accepted after the command (`mlreg plan --no-color`, as
    `terraform plan -no-color`): they are moved in front of it before parsing."""

    _FLAGS = ("--no-color", "--debug")
    _VALUED = ("-f", "--file")

    def parse_args(self, ctx, args):
        front, rest, i = [], [], 0
        while i < len(args):
            a = args[i]
            if a == "--":
                rest += args[i:]
                break
            if a in self._FLAGS or a.startswith("--file="):
                front.append(a)
            elif a in self._VALUED and i + 1 < len(args):
                front += [a, args[i + 1]]
                i += 1
            else:
                rest.append(a)
            i += 1
        return super().parse_args(ctx, front + rest)


class _SafeRecord(logging.LogRecord):
    """Every library's log line as mlreg's own output is: secrets masked, no CI runner command.
    Libraries print through their own handlers, not through `Ctx.echo`."""

    def getMessage(self) -> str:
        return ci_safe(redact.redact(super().getMessage()))


def _safe_logs() -> None:
    logging.setLogRecordFactory(_SafeRecord)


def _quiet_libraries() -> None:
    """MLflow and its migrations log INFO lines and warnings that are not ours to show (MLflow
    sets its own logger's level when it is imported: MLFLOW_LOGGING_LEVEL is what it reads)."""
    os.environ["MLFLOW_LOGGING_LEVEL"] = "ERROR"
    for name in ("mlflow", "alembic", "urllib3", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(mlflow|pydantic|sqlalchemy|alembic)(\..*)?")
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-f",
    "--file",
    "file",
    default="registry.yaml",
    show_default=True,
    envvar="MLREG_FILE",
    help="registry.yaml, or a folder of registry files (also MLREG_FILE; -f wins).",
)
@click.option("--no-color", is_flag=True, help="Plain output (also when NO_COLOR is set or stdout is not a terminal).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks and the libraries' own logs.")
@click.version_option(__version__, prog_name="mlreg")
@click.pass_context
def main(click_ctx, file, no_color, debug):
    """mlreg: registry-as-code for MLflow models, prompts, webhooks and policy versions."""
    redact.collect_from_env(dict(os.environ))
    _safe_logs()
    if not debug:
        _quiet_libraries()
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    click_ctx.obj = Ctx(file, color, debug)


pass_ctx = click.make_pass_decorator(Ctx)

backend_timeout_option = click.option(
    "--backend-timeout",
    "backend_timeout",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Give up on an MLflow or database that stops answering after this long (default 60, "
    "or MLREG_BACKEND_TIMEOUT).",
)


reconfigure_option = click.option(
    "--reconfigure",
    is_flag=True,
    help="Accept MLflow or database endpoints other than those state was recorded against (a deliberate "
    "move, as `terraform init -reconfigure`); apply then records the new ones.",
)


def format_option(choices: list[str], help: str):
    """`--format`, the first choice the default."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True, help=help)


lock_timeout_option = click.option(
    "--lock-timeout",
    default=0.0,
    type=float,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for the state lock held by another apply or import (0: fail at once, naming who holds it).",
)


target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Only this resource and what it depends on (repeatable; model.NAME takes its versions too). "
    "For exceptional cases: the plan may not show every change the file asks for.",
)


def refuse(message: str) -> None:
    raise UserError(message)
