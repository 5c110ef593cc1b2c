"""mlreg's benchmark: plan near the physical floor, parallel apply, the engine at 100k versions.

    make bench                      # 1,000 models x 10 versions, 1,000 policy versions, 5 rounds
    python bench/run.py --models 20 --versions 5 --rounds 1     # a quick look

Starts a real PostgreSQL and `mlflow server` (gunicorn, 4 workers) with the test fixtures' code,
populates the registry once through MLflow's store API (cached in bench/.cache between runs),
then measures, interleaved, the median of --rounds rounds:
- floor: a minimal standalone raw-REST reader of the whole registry (best of its strategies and
  thread counts), as a whole process;
- plan: `mlreg plan --detailed-exitcode` on a registry.yaml declaring all of it (converged: exit 0),
  as a whole process, and the HTTP requests it made (counted in the server's access log);
- apply: `mlreg apply --parallelism 8` of 1,000 tag changes, as a whole process (it plans, then
  writes), against the write floor: a minimal raw-REST program that reads the registry the fastest
  way and makes the same 1,000 tag writes on 8 threads (bench/write_floor.py), as a whole process;
- engine: config load + diff + plan of 100,000 synthetic versions in-process (bench/engine.py).
Prints a table, then `plan/floor=…x requests=… apply/write_floor=…x engine_100k=…s/…MB`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import populate as pop  # noqa: E402

CACHE = ROOT / "bench" / ".cache"


def timed(cmd: list[str], env: dict, cwd: Path, expect: int = 0) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != expect:
        raise SystemExit(
            f"{' '.join(cmd[:4])}… exited {proc.returncode} (expected {expect}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed, proc.stdout


class Bench:
    def __init__(
        self,
        mlflow_url: str,
        db_url: str,
        server,
        workdir: Path,
        models: int,
        versions: int,
        policies: int,
        tag_changes: int,
    ):
        self.url, self.db_url, self.server = mlflow_url, db_url, server
        self.work, self.models, self.versions, self.policies = workdir, models, versions, policies
        self.tag_changes = min(tag_changes, models * versions)
        self.env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_url, "MLREG_DATABASE_URL": db_url, "NO_COLOR": "1"}
        self.mlreg = [sys.executable, "-m", "mlreg"]
        workdir.mkdir(parents=True, exist_ok=True)

    def write(self, round_tag: str = "base") -> None:
        (self.work / "registry.yaml").write_text(
            pop.registry_yaml(self.models, self.versions, self.policies, round_tag, self.tag_changes)
        )

    def converge(self) -> None:
        """Adopt everything into state (and undo a previous run's last round), untimed. Each run
        starts the servers on new ports: the state kept in the work folder between runs is moved
        to them deliberately (--reconfigure)."""
        self.write()
        timed(self.mlreg + ["apply", "--auto-approve", "--parallelism", "8", "--reconfigure"], self.env, self.work)

    def floor(self) -> float:
        best = None
        for args in (
            ["--strategy", "pages"],
            ["--strategy", "chunks", "--threads", "2"],
            ["--strategy", "chunks", "--threads", "4"],
        ):
            t, out = timed([sys.executable, str(ROOT / "bench" / "floor.py"), self.url, *args], self.env, self.work)
            models, versions, _ = out.split()
            assert int(models) >= self.models and int(versions) >= self.models * self.versions, out
            best = t if best is None else min(best, t)
        return best

    def plan(self) -> float:
        return timed(self.mlreg + ["plan", "--detailed-exitcode"], self.env, self.work, expect=0)[0]

    def plan_requests(self) -> int:
        offset = self.server.log_size()
        self.plan()
        time.sleep(1.0)
        return len(self.server.requests_since(offset))

    def apply(self, parallelism: int, tag: str) -> float:
        self.write(tag)
        cmd = self.mlreg + ["apply", "--auto-approve", "--parallelism", str(parallelism)]
        return timed(cmd, self.env, self.work)[0]

    def write_floor(self, threads: int, tag: str) -> float:
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "write_floor.py"),
            self.url,
            "--count",
            str(self.tag_changes),
            "--threads",
            str(threads),
            "--versions",
            str(self.versions),
            "--value",
            tag,
        ]
        t, out = timed(cmd, self.env, self.work)
        assert int(out.split()[1]) == self.tag_changes, out
        return t


def engine(versions: int) -> tuple[float, float, float]:
    """(engine seconds, peak MB, engine floor seconds), each in a fresh process."""
    script = [sys.executable, str(ROOT / "bench" / "engine.py"), str(versions)]
    out = subprocess.run(script, capture_output=True, text=True, check=True).stdout.split()
    floor = subprocess.run([*script, "--floor"], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(floor[0])


def measure(b: Bench, rounds: int, engine_versions: int) -> dict:
    b.converge()
    requests = b.plan_requests()
    floors, plans, applies, write_floors, engines = [], [], [], [], []
    for r in range(rounds):
        floors.append(b.floor())
        plans.append(b.plan())
        tag = f"apply-{r}-{time.time_ns()}"
        applies.append(b.apply(8, tag))
        write_floors.append(b.write_floor(8, f"floor-{r}-{time.time_ns()}"))
        b.apply(8, tag)  # untimed: put back what the floor changed, so the next plan is converged
        engines.append(engine(engine_versions))
        print(
            f"  round {r + 1}: floor {floors[-1]:.2f}s plan {plans[-1]:.2f}s apply {applies[-1]:.1f}s "
            f"write floor {write_floors[-1]:.1f}s engine {engines[-1][0]:.2f}s/{engines[-1][1]:.0f}MB "
            f"(floor {engines[-1][2]:.2f}s)",
            flush=True,
        )
    b.converge()  # leave the registry as registry.yaml says, for the next run
    med = statistics.median
    return {
        "floor": med(floors),
        "plan": med(plans),
        "apply": med(applies),
        "write_floor": med(write_floors),
        "requests": requests,
        "engine_s": med(e[0] for e in engines),
        "engine_mb": med(e[1] for e in engines),
        "engine_floor_s": med(e[2] for e in engines),
        "rounds": rounds,
        "tag_changes": b.tag_changes,
    }


def report(res: dict, models: int, versions: int, engine_versions: int) -> None:
    rows = [
        ("registry", f"{models} models x {versions} versions"),
        ("floor (raw REST, whole process)", f"{res['floor']:.2f} s"),
        ("mlreg plan (whole process, converged)", f"{res['plan']:.2f} s"),
        ("plan requests", str(res["requests"])),
        (f"mlreg apply, {res['tag_changes']} tag changes, parallelism 8", f"{res['apply']:.1f} s"),
        (f"write floor: read + {res['tag_changes']} tag writes on 8 threads", f"{res['write_floor']:.1f} s"),
        (
            f"engine {engine_versions:,} versions (load+diff+plan)",
            f"{res['engine_s']:.2f} s, {res['engine_mb']:.0f} MB",
        ),
        ("engine floor: plain load + one comparison per version", f"{res['engine_floor_s']:.2f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\nmedians of {res['rounds']} rounds")
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    print(
        f"plan/floor={res['plan'] / res['floor']:.2f}x requests={res['requests']} "
        f"apply/write_floor={res['apply'] / res['write_floor']:.2f}x "
        f"engine_{engine_versions // 1000}k={res['engine_s']:.1f}s/{res['engine_mb']:.0f}MB "
        f"engine/floor={res['engine_s'] / res['engine_floor_s']:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--tag-changes", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--engine-versions", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=4, help="mlflow server (gunicorn) workers")
    ap.add_argument("--populate-only", action="store_true", help="fill the cache and stop")
    ap.add_argument(
        "--serve",
        type=float,
        metavar="SECONDS",
        help="start the services, print their URLs, keep them up this long (for profiling)",
    )
    args = ap.parse_args()

    from tests.support.services import start_mlflow, start_postgres

    size = f"{args.models}x{args.versions}"
    CACHE.mkdir(parents=True, exist_ok=True)
    pg = start_postgres(data_root=str(CACHE / "pg"))
    server = None
    try:
        mlflow_db = pg.create_database(f"bench_mlflow_{size}")
        exp_db = pg.create_database(f"bench_exp_{size}")
        marker = CACHE / f"populated-{size}-{args.policies}"
        if not marker.exists() or os.environ.get("MLREG_TEST_DATABASE_URL"):
            t0 = time.perf_counter()
            print(f"populating {size} (once; cached in {CACHE}) …", flush=True)
            mlflow_db = pg.create_database(f"bench_mlflow_{size}", drop=True)
            pop.populate_registry(mlflow_db, args.models, args.versions)
            pop.populate_policies(exp_db, args.models, args.versions, args.policies)
            marker.write_text("ok\n")
            print(f"populated in {time.perf_counter() - t0:.0f}s", flush=True)
        if args.populate_only:
            return
        server = start_mlflow(
            mlflow_db,
            str(CACHE / "artifacts"),
            workers=args.workers,
            gunicorn=True,
            log_path=str(CACHE / f"mlflow-{size}.log"),
        )
        b = Bench(
            server.url,
            exp_db,
            server,
            CACHE / f"work-{size}",
            args.models,
            args.versions,
            args.policies,
            args.tag_changes,
        )
        if args.serve:
            print(f"MLFLOW_TRACKING_URI={server.url} MLREG_DATABASE_URL={exp_db} (workdir {b.work})", flush=True)
            time.sleep(args.serve)
            return
        res = measure(b, args.rounds, args.engine_versions)
        report(res, args.models, args.versions, args.engine_versions)
    finally:
        if server:
            server.stop()
        pg.stop()


if __name__ == "__main__":
    main()
