"""What a user's process does with a job: run it here, submit it, read its result.

``in_process`` (``execute_in_process``), ``submit`` (``submit`` and ``RunHandle``),
``result`` (``ExecuteInProcessResult``), ``reexecute``. Names load on first use
(``..exports``), so running in process never loads Redis or Celery.
"""

from opgrid.orchestrator.exports import lazy_exports

_EXPORTS = {
    "execute_in_process": "in_process",
    "ExecuteInProcessResult": "result",
    "RunHandle": "submit",
    "submit": "submit",
    "reexecute": "reexecute",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
