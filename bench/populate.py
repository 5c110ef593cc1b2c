"""Fill a registry the fast way: MLflow's own store API on the backing database (no raw SQL into
MLflow's tables), from a few threads; policy rows go into our own table with SQLAlchemy.

Shape per model (defaults: 1,000 models x 10 versions): 2 model tags, 1-2 aliases, a description;
per version a stage tag plus `owner` and `dataset_version` tags (and a fourth on every fifth),
which gives 32,000 version tags, 2,000 model tags and 1,500 aliases for the default size.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

POLICY_ID = "7b3c2d1e-0000-4000-8000-000000000001"


def model_name(i: int) -> str:
    return f"bench_{i:05d}_model"


def stage_of(j: int, versions: int) -> str:
    """The newest version is in production, the one before archived, the rest candidates."""
    if j == versions:
        return "production"
    return "archived" if j == versions - 1 else "candidate"


def version_tags(i: int, j: int, versions: int) -> dict[str, str]:
    tags = {"stage": stage_of(j, versions), "owner": f"team-{i % 7}", "dataset_version": f"2025-01-{j:02d}"}
    if (i * versions + j) % 5 == 0:
        tags["reviewed"] = "yes"
    return tags


def model_tags(i: int) -> dict[str, str]:
    return {"team": f"team-{i % 7}", "tier": "gold" if i % 2 else "silver"}


def aliases(i: int, versions: int) -> dict[str, int]:
    out = {"champion": versions}
    if i % 2 == 0:
        out["previous"] = max(1, versions - 1)
    return out


def populate_registry(store_uri: str, models: int, versions: int, threads: int = 4) -> None:
    from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(store_uri)

    def one(i: int) -> None:
        name = model_name(i)
        store.create_registered_model(
            name, tags=[RegisteredModelTag(k, v) for k, v in model_tags(i).items()], description=f"benchmark model {i}"
        )
        for j in range(1, versions + 1):
            store.create_model_version(
                name,
                f"s3://bench/{name}/{j}",
                tags=[ModelVersionTag(k, v) for k, v in version_tags(i, j, versions).items()],
                description=f"v{j}",
            )
        for alias, v in aliases(i, versions).items():
            store.set_registered_model_alias(name, alias, str(v))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(models)))


def populate_policies(db_url: str, models: int, versions: int, count: int) -> None:
    import sqlalchemy as sa

    from mlreg.providers.postgres.provider import DatabaseProvider, tables

    db = DatabaseProvider(db_url)
    db.init()
    policy_versions = tables()[1]
    rows = [
        {
            "id": str(uuid.uuid4()),
            "policy_id": POLICY_ID,
            "version": n + 1,
            "mlflow_model_name": model_name(n % models),
            "mlflow_model_version": str(versions),
            "config_defaults": {"temperature": round(0.1 * (n % 10), 1)},
        }
        for n in range(count)
    ]
    with db.engine.begin() as conn:
        conn.execute(sa.delete(policy_versions).where(policy_versions.c.policy_id == POLICY_ID))
        conn.execute(policy_versions.insert(), rows)


def registry_yaml(models: int, versions: int, policies: int, round_tag: str | None = None, round_count: int = 0) -> str:
    """The registry.yaml that declares everything populated (plan on it is empty).

    round_tag: set the tag `bench_round` to this value on the first `round_count` versions
    (that is the apply benchmark's workload: one tag write per version).
    """
    lines = [
        "version: 1",
        "mlflow: {tracking_uri: '${MLFLOW_TRACKING_URI}'}",
        "database: {url: '${MLREG_DATABASE_URL}'}",
        "models:",
    ]
    n = 0
    for i in range(models):
        lines.append(f"  {model_name(i)}:")
        lines.append(f"    description: benchmark model {i}")
        lines.append(f"    tags: {_flow(model_tags(i))}")
        lines.append(f"    aliases: {_flow(aliases(i, versions))}")
        lines.append("    versions:")
        for j in range(1, versions + 1):
            tags = {k: v for k, v in version_tags(i, j, versions).items() if k != "stage"}
            if round_tag is not None and n < round_count:
                tags["bench_round"] = round_tag
            n += 1
            lines.append(
                f"      - {{version: {j}, stage: {stage_of(j, versions)}, description: v{j}, tags: {_flow(tags)}}}"
            )
    if policies:
        lines += ["policies:", "  bench_policy:", f"    id: {POLICY_ID}", "    versions:"]
    for p in range(policies):
        lines.append(
            f"      {p + 1}: {{model: {model_name(p % models)}, model_version: {versions}, "
            f"config_defaults: {{temperature: {round(0.1 * (p % 10), 1)}}}}}"
        )
    return "\n".join(lines) + "\n"


def _flow(d: dict) -> str:
    return "{" + ", ".join(f"{k}: '{v}'" if isinstance(v, str) else f"{k}: {v}" for k, v in d.items()) + "}"
