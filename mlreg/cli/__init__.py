"""The `mlreg` command line: the composition root. Commands live in their modules and are
registered here; none of them imports this module back."""

from mlreg.cli import commands, import_cmd, state_cmds
from mlreg.cli.app import main

for _command in (*commands.COMMANDS, import_cmd.import_, *state_cmds.COMMANDS):
    main.add_command(_command)

__all__ = ["main"]
