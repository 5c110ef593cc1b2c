"""The write floor: what any tool must do to apply the benchmark's tag changes, and nothing more.
Read the registry (the floor reader's fastest strategy: pages of 1,000 on two threads), then set
one version tag per version on the first N versions, on T threads, through raw REST with pooled
keep-alive connections. Run as a whole process:

    python bench/write_floor.py URL --count 1000 --threads 8 --key bench_round --value v1

Prints `versions_read writes seconds_writing`.
"""

import argparse
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench import populate as pop
from bench.floor import read_pages

API = "/api/2.0/mlflow"
local = threading.local()


def post(base: str, path: str, body: dict) -> None:
    s = getattr(local, "s", None) or requests.Session()
    local.s = s
    r = s.post(base + API + path, json=body, timeout=300)
    r.raise_for_status()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--versions", type=int, default=10, help="versions per model in the benchmark registry")
    ap.add_argument("--key", default="bench_round")
    ap.add_argument("--value", required=True)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    counter: list = []
    _, versions = read_pages(base, counter)
    # the same versions the benchmark's registry.yaml changes: model i, version j, in file order
    targets = [(pop.model_name(n // args.versions), str(n % args.versions + 1)) for n in range(args.count)]
    import time

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(
            pool.map(
                lambda t: post(
                    base,
                    "/model-versions/set-tag",
                    {"name": t[0], "version": t[1], "key": args.key, "value": args.value},
                ),
                targets,
            )
        )
    print(len(versions), len(targets), f"{time.perf_counter() - t0:.2f}")


if __name__ == "__main__":
    main()
