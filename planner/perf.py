"""Performance helpers shared by the engine's bulk phases. They change no process-wide setting
for longer than the block they wrap, unless the process is the CLI's own (`own_process`)."""

from __future__ import annotations

import gc
from contextlib import contextmanager

_owned = False


def own_process() -> None:
    """Say that this process is a short-lived command (the CLI), which keeps what the bulk phases
    build until it exits: each phase then moves its objects out of the cyclic collector's sight
    (`gc.freeze`), so the reads and phases after it do not rescan them again and again. A library
    caller that does not say so keeps the collector as it was."""
    global _owned
    _owned = True


@contextmanager
def no_gc_pauses():
    """Bulk building (100k changes) allocates millions of objects and no cycles: the cyclic
    collector would rescan everything again and again (a third of the time), so pause it for the
    block, and restore whatever it was (in an owned process, with what was built frozen)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _owned:
            gc.freeze()
        if enabled:
            gc.enable()


def release_freed_memory() -> None:
    """Hand memory the C parsers freed back to the OS (glibc keeps it otherwise, and the
    interpreter's own arenas never reuse it): after loading a large file, the plan's objects then
    grow from a lower mark instead of stacking on top of the parser's peak."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
