"""The raw-Celery baseline of ``bench_cluster.py``: a tiny Celery app, no opgrid.

A worker subprocess serves it with ``python -m celery -A tests.benchmarks.raw_celery_app
worker ...`` (run from the repository root); the benchmark builds the same app in
its own process to send tasks and read results. Both read their settings from
environment variables, set by the benchmark:

* ``BENCH_RAW_REDIS_URL``: broker and result backend (the Redis opgrid uses too);
* ``BENCH_RAW_QUEUE``: the queue the tasks go to and the worker consumes;
* ``BENCH_RAW_DEFAULTS``: ``1`` for Celery's own defaults (early acks, prefetch
  multiplier 4, no task events); otherwise the settings of opgrid's worker app
  (late acks, reject on worker lost, prefetch multiplier 1, task events on), so
  that both sides give the same at-least-once guarantee and the same view in Flower.

Tasks: ``add(x, y)`` (the trivial op) and ``nap(x)`` (sleeps ``NAP_S``, as the
``nap`` op of ``tests/jobs/bench_cluster_jobs.py`` does).
"""

from __future__ import annotations

import os
import time

from celery import Celery

#: How long ``nap`` sleeps; the same as ``cluster_jobs.NAP_S``.
NAP_S = 0.1


def make_app(redis_url: str, queue: str, celery_defaults: bool = False) -> Celery:
    """The baseline app: JSON, a Redis result backend, tasks on ``queue``."""
    app = Celery("bench_raw", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=queue,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        result_expires=600,
    )
    if not celery_defaults:
        app.conf.update(
            task_acks_late=True,
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,
            worker_send_task_events=True,
        )

    @app.task(name="bench_raw.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="bench_raw.nap", shared=False)
    def nap(x: int) -> int:
        time.sleep(NAP_S)
        return x

    return app


app = make_app(
    os.environ.get("BENCH_RAW_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("BENCH_RAW_QUEUE", "bench_raw"),
    celery_defaults=os.environ.get("BENCH_RAW_DEFAULTS") == "1",
)
