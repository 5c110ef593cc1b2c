"""The MLflow provider (provider.py): bulk reads and per-attribute writes through a transport
(REST, or MLflow's in-process store), with one module per kind under `kinds/` that registers its
reader and writer in `DISPATCH`."""

from mlreg.providers.dispatch import Dispatch

DISPATCH = Dispatch("mlreg/mlflow", "mlreg.providers.mlflow.kinds")
