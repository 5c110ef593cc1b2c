"""The `mlreg` command line: the composition root. Commands live in their modules and are
registered here; none of them imports this module back."""

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
    try:
        group.main(standalone_mode=True)
        code = 0
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
