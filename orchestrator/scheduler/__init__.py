"""The scheduler: every coordinator process runs one in a thread; the one that holds the
namespace's lease (the leader) ticks schedules and sensors and advances backfills.

``loop`` (``Scheduler``, leadership and one turn), ``instigators`` (when a schedule or
sensor ticks, following a tick until its runs are launched), ``run_status`` (the runs a
run status sensor is fed), ``backfills`` (launching partitions a few at a time),
``send`` (the ``opgrid.tick`` task to a worker of the code location), ``thread`` (the
one wiring in a coordinator process), ``hooks`` and ``metrics`` (what it tells
observers; its Prometheus metrics), ``control`` (turning schedules and sensors on and
off, canceling backfills: what the CLI and the web UI do). It never imports user code:
workers publish what their code locations define and evaluate the ticks. Names load on
first use (``..exports``).
"""

from opgrid.orchestrator.exports import lazy_exports

_EXPORTS = {
    "Scheduler": "loop",
    "CeleryTickSender": "send",
    "TickSender": "send",
    "start_scheduler": "thread",
    "SchedulerHooks": "hooks",
    "SchedulerMetrics": "metrics",
    "cancel_backfill": "control",
    "set_running": "control",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
