"""Performance helpers shared by the engine's bulk phases."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def no_gc_pauses():
    """Bulk building (100k changes) allocates millions of objects and no cycles: the cyclic
    collector would rescan everything again and again (a third of the time), so pause it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
