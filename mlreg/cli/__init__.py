"""The `mlreg` command line: the command group with every command registered (the commands live
in their modules and none imports this one back; `wiring.py` builds what they run on)."""

from __future__ import annotations

import os
import sys

from mlreg.cli import commands, import_cmd, state_cmds
from mlreg.cli.app import main as group

for _command in (*commands.COMMANDS, import_cmd.import_, *state_cmds.COMMANDS):
    group.add_command(_command)


def main() -> None:
    """Run the command, then leave at once: everything is written and flushed by then, and
    tearing down a large plan's objects one by one would only make the caller wait (~0.1 s)."""
    import click

    from mlreg.planner.perf import own_process

    own_process()
    try:
        group.main(standalone_mode=False)
        code = 0
    except click.exceptions.Exit as e:  # --help, --version
        code = e.exit_code
    except click.ClickException as e:  # a usage error: exit 1 like every error (2 means "changes")
        e.show()
        code = 1
    except click.exceptions.Abort:
        print("Aborted.", file=sys.stderr)
        code = 1
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int | None):
            print(e.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


__all__ = ["group", "main"]
