"""The cluster's one I/O loop: claims runs, feeds their states, dispatches steps.

``loop`` (``Coordinator``), ``owned`` (what it keeps per run), ``supervision``
(pure decisions about silent workers, time limits and untaken steps), ``dispatch``
(sending steps to Celery by task name), ``hooks`` (what observers are told),
``metrics`` (Prometheus, from hook arguments), ``metrics_server`` (serves them over
HTTP), ``outbox`` (sends and revokes), ``turn_writes`` (a turn's writes, held and then
stored with its sends), ``publisher`` (step messages, built cheaply),
``pacing`` (how long reports gather before a read), ``watching`` (performs supervision),
``unacked`` (settles the broker's leftover copies of ended attempts), ``collector`` (the
garbage collector of a coordinator process), ``local`` (the one wiring of a coordinator
in a thread). Names load on first use (``..exports``).
"""

from opgrid.orchestrator.exports import lazy_exports

_EXPORTS = {
    "Coordinator": "loop",
    "CeleryDispatcher": "dispatch",
    "Delivery": "dispatch",
    "Dispatcher": "dispatch",
    "Counts": "hooks",
    "Hooks": "hooks",
    "CoordinatorThread": "local",
    "local_coordinator": "local",
    "local_coordinator_with_metrics": "local",
    "UnackedSweeper": "unacked",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
