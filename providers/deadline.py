"""A deadline for a call that a hostile or broken server could keep busy forever.

Socket timeouts bound each read, not the whole answer: a server that trickles one byte at a time
(headers or body), or never stops sending, keeps a request alive for as long as it likes. So a
request runs in a daemon thread and the caller waits for it at most the deadline; past it, the
caller gives up (`DeadlinePassed`) and the thread is left to the operating system's end of the
process. Whatever the abandoned call holds (a session, a connection) must not be used again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlinePassed(Exception):
    """The call did not finish within its deadline (it may still be running)."""


def within(seconds: float, call: Callable[[], T]) -> T:
    """`call()`'s result, or its exception, if it finishes within `seconds`; else DeadlinePassed."""
    box: dict = {}
    finished = threading.Event()

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as e:  # handed to the caller as it is
            box["error"] = e
        finally:
            finished.set()

    threading.Thread(target=run, daemon=True, name="mlreg-deadline").start()
    if not finished.wait(seconds):
        raise DeadlinePassed(f"no complete answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
