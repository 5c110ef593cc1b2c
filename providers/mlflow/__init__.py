"""The MLflow provider (provider.py): bulk reads, writes per attribute, through REST or in-process."""
