"""Pausing Python's cyclic garbage collector while large definitions are built.

Building a job of 100,000 ops allocates millions of objects that all stay
alive; every generation-2 collection on the way walks all of them, which
makes construction grow faster than linearly. Nothing built there is garbage,
so the collector is paused for the duration and resumed after (re-entrant).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, restoring its previous state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
