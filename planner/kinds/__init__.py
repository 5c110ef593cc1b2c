"""Resource kinds, one module each; `catalog.py` is the registry the engine iterates."""
