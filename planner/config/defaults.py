"""The backend defaults, as written: environment references that every MLflow tool honours
(kept apart from the settings' types so the early read can use them without importing pydantic)."""

DEFAULT_TRACKING_URI = "${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"
DEFAULT_DATABASE_URL = "${MLREG_DATABASE_URL:-sqlite:///mlreg.db}"
# the `workspace:` setting when the file gives none: MLflow's own client reads MLFLOW_WORKSPACE
WORKSPACE_REFERENCE = "${MLFLOW_WORKSPACE:-}"
# MLflow's default workspace: where everything lives on a server without workspaces, and what a
# request without the workspace header means
DEFAULT_WORKSPACE = "default"
# the postgres state backend's URL when the file gives none (empty: the policy database's)
DEFAULT_STATE_URL = "${MLREG_STATE_URL:-}"
# Raw defaults, expanded like values written in the file.
RAW_DEFAULTS = {"mlflow": {"tracking_uri": DEFAULT_TRACKING_URI}, "database": {"url": DEFAULT_DATABASE_URL}}
# the artifact path a version's matcher takes when it gives none (MLflow's `log_model` default)
DEFAULT_ARTIFACT_PATH = "model"
