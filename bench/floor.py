"""The floor: read the whole registry (models with tags and aliases, versions with tags) through
raw REST, as fast as this server allows. Run as a whole process: `python bench/floor.py URL`.

Strategies (pick with --strategy): `pages`: models and versions in pages of 1,000 following page
tokens, the two searches on two threads; `chunks`: one page of models, then versions by
`name IN (…)` chunks of 100 names on --threads threads. Prints `models versions requests`.
"""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

API = "/api/2.0/mlflow"
local = threading.local()


def get(base, path, params):
    s = getattr(local, "s", None) or requests.Session()
    local.s = s
    r = s.get(base + API + path, params=params, timeout=300)
    r.raise_for_status()
    return r.json()


def pages(base, path, key, params, counter):
    out, token = [], None
    while True:
        body = get(base, path, dict(params, **({"page_token": token} if token else {})))
        counter.append(1)
        out += body.get(key, [])
        token = body.get("next_page_token")
        if not token:
            return out


def read_pages(base: str, counter: list) -> tuple[list, list]:
    """Models and versions in pages of 1,000, the two searches on two threads."""
    with ThreadPoolExecutor(2) as pool:
        m = pool.submit(pages, base, "/registered-models/search", "registered_models", {"max_results": 1000}, counter)
        v = pool.submit(
            pages,
            base,
            "/model-versions/search",
            "model_versions",
            {"max_results": 1000, "order_by": ["name ASC", "version_number ASC"]},
            counter,
        )
        return m.result(), v.result()


def main():
    base = sys.argv[1].rstrip("/")
    strategy = sys.argv[sys.argv.index("--strategy") + 1] if "--strategy" in sys.argv else "pages"
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    counter = []
    if strategy == "pages":
        models, versions = read_pages(base, counter)
    else:
        models = pages(base, "/registered-models/search", "registered_models", {"max_results": 1000}, counter)
        names = sorted(x["name"] for x in models)
        chunks = [names[i : i + 100] for i in range(0, len(names), 100)]

        def chunk(c):
            flt = "name IN (" + ", ".join(f"'{n}'" for n in c) + ")"
            return pages(
                base, "/model-versions/search", "model_versions", {"max_results": 200000, "filter": flt}, counter
            )

        with ThreadPoolExecutor(threads) as pool:
            versions = [v for part in pool.map(chunk, chunks) for v in part]
    print(len(models), len(versions), len(counter))


if __name__ == "__main__":
    main()
