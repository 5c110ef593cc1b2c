"""The database provider (provider.py): exp.policy_versions and exp.variants through SQLAlchemy
Core (PostgreSQL, or SQLite for the embedded default), with one module per kind under `kinds/`
that registers its reader and writer in `DISPATCH`."""

from mlreg.providers.dispatch import Dispatch

DISPATCH = Dispatch("mlreg/postgres", "mlreg.providers.postgres.kinds")
