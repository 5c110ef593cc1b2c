"""Log example training runs the way the MLflow guide says every run must: params, metrics, tags, a model.

Two flavours of `model`, the two ways teams log models today, so mlreg is shown registering both
in a way `mlflow.pyfunc.load_model("models:/NAME/N")` can load:
- a plain artifact folder holding an MLflow model (`log_artifacts(dir, artifact_path="model")`);
- an MLflow 3 logged model (`mlflow.pyfunc.log_model(name="model", ...)`).

Usage: python examples/demo/train.py [--tracking-uri URI] [--experiment NAME] RUN_NAME:KIND ...
where KIND is `artifact` or `logged`. Runs that already exist (by name) are left alone.
"""

from __future__ import annotations

import argparse
import tempfile

import mlflow
import mlflow.pyfunc


class PlannerModel(mlflow.pyfunc.PythonModel):
    """A stand-in planner: returns a plan length per request."""

    def predict(self, context, model_input: list[str], params=None) -> list[int]:
        return [len(str(x)) for x in model_input]


def log_run(
    experiment: str,
    run_name: str,
    kind: str = "artifact",
    scores: tuple[float, float] = (0.91, 1.0),
    omit: tuple[str, ...] = (),
) -> str:
    """Log one training run (unless one of that name exists); `omit` drops params/metrics/tags by name."""
    mlflow.set_experiment(experiment)
    existing = mlflow.search_runs(
        experiment_names=[experiment], filter_string=f"attributes.run_name = '{run_name}'", output_format="list"
    )
    if existing:
        return existing[0].info.run_id

    def keep(d):
        return {k: v for k, v in d.items() if k not in omit}

    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(
            keep(
                {
                    "learning_rate": 1e-4,
                    "batch_size": 16,
                    "epochs": 3,
                    "dataset_version": run_name[-10:],
                    "model_base": "llama-3-8b",
                    "fine_tuning_method": "lora",
                }
            )
        )
        mlflow.log_metrics(
            keep(
                {
                    "train_loss": 0.45,
                    "val_loss": 0.52,
                    "plan_alignment_score": scores[0],
                    "constraint_respect_score": scores[1],
                }
            )
        )
        mlflow.set_tags(
            keep(
                {
                    "policy_id": "planner_policy",
                    "task": "planner",
                    "dataset_version": run_name[-10:],
                    "stage": "training",
                }
            )
        )
        if kind == "logged":
            mlflow.pyfunc.log_model(name="model", python_model=PlannerModel())
        else:
            with tempfile.TemporaryDirectory() as tmp:
                mlflow.pyfunc.save_model(f"{tmp}/model", python_model=PlannerModel())
                mlflow.log_artifacts(f"{tmp}/model", artifact_path="model")
        return run.info.run_id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", default=None)
    ap.add_argument("--experiment", default="planner_training")
    ap.add_argument("--scores", default="0.91,1.0", help="plan_alignment_score,constraint_respect_score")
    ap.add_argument("runs", nargs="+", metavar="RUN_NAME:KIND")
    args = ap.parse_args()
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    scores = tuple(float(x) for x in args.scores.split(","))
    for spec in args.runs:
        name, _, kind = spec.partition(":")
        print(f"{name} {log_run(args.experiment, name, kind or 'artifact', scores)}")


if __name__ == "__main__":
    main()
