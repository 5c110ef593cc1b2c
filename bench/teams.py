"""Many files, and the audit journal, measured (no servers needed).

    python bench/teams.py            # 1,000 models x 10 versions; 1,000 applies on 10,000 versions

files: `mlreg validate` of one file holding 1,000 models against a folder of 100 files holding
the same models (and a settings file), each as a whole process, medians of 3.
journal: a local state of 10,000 versions written, then 1,000 applies of 5 changes each; the
journal's size against the state's and against 1,000 full copies, and the time to replay the
state as it was halfway (`mlreg state pull --at`).
Prints `files/one=…x journal=…MB (full copies …MB) replay=…s`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import populate as pop  # noqa: E402


def _validate(target: Path, cwd: Path) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://x", "MLREG_DATABASE_URL": "sqlite:///x.db"}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlreg", "-f", str(target), "validate"],
        check=True,
        env=env,
        cwd=cwd,
        capture_output=True,
    )
    return time.perf_counter() - t0


def files(models: int = 1000, versions: int = 10, parts: int = 100) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp())
    text = pop.registry_yaml(models, versions, policies=0)
    (work / "one.yaml").write_text(text)
    head, body = text.split("models:\n", 1)
    entries, current = [], []
    for line in body.splitlines(keepends=True):
        if line.startswith("  ") and not line.startswith("   ") and current:
            entries.append("".join(current))
            current = []
        current.append(line)
    entries.append("".join(current))
    folder = work / "teams"
    folder.mkdir()
    (folder / "_settings.yaml").write_text(head)
    per = len(entries) // parts
    for i in range(parts):
        (folder / f"team-{i:03d}.yaml").write_text("models:\n" + "".join(entries[i * per : (i + 1) * per]))
    one = statistics.median(_validate(work / "one.yaml", work) for _ in range(3))
    many = statistics.median(_validate(folder, work) for _ in range(3))
    return one, many


def journal(versions: int = 10_000, applies: int = 1000, changes: int = 5) -> tuple[float, float, float, float]:
    from mlreg.planner.recorded import ResourceState, StateSnapshot, replay
    from mlreg.state.local import LocalState

    work = Path(tempfile.mkdtemp())
    backend = LocalState(work / ".mlreg" / "state.json", work)
    resources = {
        f"model_version.m{i // 10}_model[v{i % 10 + 1}]": ResourceState(
            "model_version",
            {"name": f"m{i // 10}_model", "version": str(i % 10 + 1), "key": f"v{i % 10 + 1}"},
            {"version": str(i % 10 + 1), "stage": "candidate", "description": f"v{i}", "tags": {"team": "t"}},
        )
        for i in range(versions)
    }
    snap = StateSnapshot(lineage="bench", serial=1, resources=dict(resources))
    backend.write(snap)
    addresses = sorted(resources)
    halfway = None
    for n in range(applies):
        changed = dict(snap.resources)
        for k in range(changes):
            a = addresses[(n * changes + k) % len(addresses)]
            old = changed[a]
            changed[a] = ResourceState(old.type, old.identity, {**old.attributes, "description": f"apply {n}"})
        snap = StateSnapshot(lineage="bench", serial=snap.serial + 1, resources=changed)
        backend.write(snap)
        if n == applies // 2:
            from datetime import UTC, datetime

            halfway = datetime.now(UTC).isoformat()
    state_mb = backend.path.stat().st_size / 1e6
    journal_mb = backend.journal_path.stat().st_size / 1e6
    t0 = time.perf_counter()
    past = replay(backend.journal(), at=halfway)
    took = time.perf_counter() - t0
    assert past is not None and len(past.resources) == versions
    return journal_mb, state_mb, state_mb * applies, took


def main() -> None:
    one, many = files()
    journal_mb, state_mb, copies_mb, took = journal()
    print(f"  validate, one file of 1,000 models x 10 versions   {one:.2f} s")
    print(f"  validate, the same in 100 files + settings          {many:.2f} s")
    print(f"  journal after 1,000 applies on 10,000 versions      {journal_mb:.1f} MB (state {state_mb:.1f} MB)")
    print(f"  replay of the state halfway (state pull --at)       {took:.2f} s")
    print(f"files/one={many / one:.2f}x journal={journal_mb:.1f}MB (full copies {copies_mb:.0f}MB) replay={took:.2f}s")


if __name__ == "__main__":
    main()
