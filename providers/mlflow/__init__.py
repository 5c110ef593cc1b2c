"""The MLflow provider: registry reads in bulk, writes per attribute, through REST or in-process."""

from mlreg.providers.mlflow.provider import MlflowProvider

__all__ = ["MlflowProvider"]
