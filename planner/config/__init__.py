"""registry.yaml: its schema (one module per section), loading with positions, and checks."""

from mlreg.planner.config.load import load_config, parse_config
from mlreg.planner.config.schema import Config, LoadedConfig

__all__ = ["Config", "LoadedConfig", "load_config", "parse_config"]
