"""Python's cyclic garbage collector, set for a long-lived coordinator process.

A coordinator keeps every owned run's plan and state in memory and allocates many small
objects per event (parsed events, commands, messages). With the collector's default
threshold (700 allocations) it collects the youngest generation hundreds of times a
second under load and, now and then, walks everything it holds: about a tenth of its CPU
in a wave of small runs. ``settle`` moves what start-up made (modules, settings, clients)
out of the collector's sight (``gc.freeze``) and collects the youngest generation after
``YOUNG_THRESHOLD`` allocations instead: cyclic garbage still goes, in fewer passes.
"""

from __future__ import annotations

import gc

#: Allocations (net of deallocations) between two collections of the youngest generation.
YOUNG_THRESHOLD = 20_000
#: Collections of one generation between two of the next (Python's defaults: 10, 10).
OLDER_THRESHOLDS = (20, 100)


def settle() -> None:
    """Set the collector for the rest of this process's life (call once started)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
