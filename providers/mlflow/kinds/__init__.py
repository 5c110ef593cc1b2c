"""The MLflow provider's per-kind modules: each registers its readers, writers and listers in
`mlreg.providers.mlflow.DISPATCH` as it is imported (the provider imports them all)."""
