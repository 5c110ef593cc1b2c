"""Run the README's walkthrough exactly as written, and check what it says each step prints.

The walkthrough is the part of README.md between `<!-- walkthrough -->` and `<!-- /walkthrough -->`.
Its ```sh blocks run in order in one bash (so `cd`, `export` and `. .venv/bin/activate` carry
over), from the repository's root, with `set -euo pipefail`; the ```text block after a ```sh
block lists lines its output must contain (`…` stands for any text within a line). `make demo`
runs this, so CI runs the walkthrough on a clean clone; a step that fails, or prints something
other than the README says, fails the demo. Each step is shown as it runs, its commands (`$ …`)
then what they printed, so a newcomer sees what mlreg does; `--quiet` only checks.

Usage: python examples/demo/walkthrough.py [--readme README.md] [--quiet]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(sh|text)\n(.*?)^```", re.S | re.M)


@dataclass
class Step:
    script: str
    expect: list[str] = field(default_factory=list)


def steps(readme: str) -> list[Step]:
    """The walkthrough's steps: each ```sh block and the ```text block that may follow it."""
    start, end = readme.find("<!-- walkthrough -->"), readme.find("<!-- /walkthrough -->")
    if start < 0 or end < start:
        raise SystemExit("README.md has no <!-- walkthrough --> … <!-- /walkthrough --> section")
    out: list[Step] = []
    for m in BLOCK.finditer(readme[start:end]):
        kind, body = m.group(1), m.group(2)
        if kind == "sh":
            out.append(Step(body))
        elif out and not out[-1].expect:
            out[-1].expect = [line.rstrip() for line in body.splitlines() if line.strip()]
        else:
            raise SystemExit(f"a ```text block must follow a ```sh block: {body[:60]!r}")
    return out


def _matches(expected: str, output: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("…"))
    return any(re.search(pattern, line.rstrip()) for line in output.splitlines())


def _shown(i: int, total: int, step: Step) -> str:
    """The step's header and commands, as the reader types them."""
    commands = [f"$ {line}" for line in step.script.strip().splitlines() if line.strip()]
    return "\n".join(["", f"--- step {i + 1} of {total}", *commands])


def script(walk: list[Step], tmp: str, show: bool) -> str:
    """One bash script running every step in order, each one's output kept in `tmp/N.out` (to
    check) and, with `show`, printed after its commands."""
    lines = ["set -euo pipefail"]
    for i, step in enumerate(walk):
        if show:
            lines += [f"cat <<'MLREG_WALKTHROUGH_STEP'\n{_shown(i, len(walk), step)}\nMLREG_WALKTHROUGH_STEP"]
        lines += [f"{{\n{step.script}\n}} >{tmp}/{i}.out 2>&1 || {{ cat {tmp}/{i}.out; exit 3; }}"]
        lines += [f"cat {tmp}/{i}.out" if show else ":"]
    return "\n".join(lines)


def run(walk: list[Step], show: bool, root: Path = ROOT) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # a fresh machine's environment: nothing pointing at other servers
        # (CI=true, which a CI runner sets, would refuse the embedded defaults this walkthrough is about)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MLFLOW_", "MLREG_", "VIRTUAL_ENV")) and k not in ("CI", "GITHUB_ACTIONS", "GITLAB_CI")
        }
        env["NO_COLOR"] = "1"
        sys.stdout.flush()
        proc = subprocess.run(["bash", "-c", script(walk, tmp, show)], cwd=root, env=env)
        if proc.returncode:
            print(f"walkthrough: a step failed (exit {proc.returncode}); its output is above", file=sys.stderr)
            return 1
        missing = []
        for i, step in enumerate(walk):
            output = Path(f"{tmp}/{i}.out").read_text()
            missing += [(step.script.strip().splitlines()[-1], e) for e in step.expect if not _matches(e, output)]
        for command, line in missing:
            print(f"walkthrough: after `{command}` the README promises a line the run did not print:\n  {line}")
        if not missing:
            print(f"\nwalkthrough: {len(walk)} steps ran and printed what the README says")
        return 1 if missing else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", default=str(ROOT / "README.md"))
    ap.add_argument("--quiet", action="store_true", help="only check: do not print the steps and their output")
    ap.add_argument("--show", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = ap.parse_args()
    sys.exit(run(steps(Path(args.readme).read_text()), not args.quiet))


if __name__ == "__main__":
    main()
