"""Record the histories ``test_replay.py`` replays: real runs on a real cluster.

Run by hand from the repository root (pytest never collects it)::

    python tests/unit/planning/histories/record.py            # every story
    python tests/unit/planning/histories/record.py retry      # some of them

Each story runs one job of ``tests/jobs/`` on a real redis-server (a throwaway one),
an ``opgrid worker`` process (prefork pool, started by the tests' process harness with
the fault tests' short timings) and a coordinator in a thread of this process, and
does to it what the story says (kill a pool process mid-step, cancel the run...).
Then it writes what the cluster stored, next to this file:

* ``<story>.plan.json``: the run's plan (``store.get_plan``);
* ``<story>.jsonl``: the run's event log (``store.read_events``), one ``RunEvent`` per
  line, each error's stack left out (replay never reads it; it names local paths);
* ``<story>.outcome.json``: what the coordinator that ran it decided: the run's status,
  every step's status (``store.step_statuses``) and the run's reused steps (the one
  other input of a replay).

A recorded history is a fact: record again only to add a story, or when the plan or
event models change in a way that old logs no longer load (and say so in the commit).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))  # `tests` from the repository root

from opgrid import JobDefinition, local_coordinator, submit  # noqa: E402
from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from opgrid.orchestrator.client.submit import RunHandle  # noqa: E402
from opgrid.orchestrator.settings import Settings  # noqa: E402
from opgrid.orchestrator.store.redis import RedisRunStore  # noqa: E402
from tests.harness.processes import (  # noqa: E402
    Proc,
    Processes,
    fast_settings,
    pool_children,
    wait_for,
)
from tests.jobs import cli_jobs, faults_jobs, fuzz_jobs  # noqa: E402

#: Longest one recorded run may take.
RUN_TIMEOUT_S = 60.0

#: What a story does to its run once submitted: (processes, worker, handle) -> None.
Action = Callable[[Processes, Proc, RunHandle], None]


@dataclass(frozen=True)
class Story:
    """One recorded run: a job of a code location, and what happens to it."""

    name: str
    description: str
    job: JobDefinition
    location: str
    action: Action | None = None
    env: dict[str, str] = field(default_factory=dict)


def _kill_the_pool_process_running_slow(procs: Processes, worker: Proc, _: RunHandle) -> None:
    wait_for(lambda: procs.marks_of("slow", "start"), 20, worker.text)
    (victim,) = procs.marks_of("slow", "start")
    assert victim in pool_children(worker.pid), "slow ran outside the worker's pool"
    os.kill(victim, signal.SIGKILL)


def _cancel_once_hang_runs(procs: Processes, worker: Proc, handle: RunHandle) -> None:
    wait_for(lambda: procs.marks_of("hang", "start"), 20, worker.text)
    handle.cancel()


def _stories(fixed: Path) -> list[Story]:
    faults, cli, fuzz = (
        "tests/jobs/faults_jobs.py",
        "tests/jobs/cli_jobs.py",
        "tests/jobs/fuzz_jobs.py",
    )
    return [
        Story(
            "redelivery",
            "slow_chain: the pool process running `slow` is SIGKILLed mid-step; the step is "
            "declared lost with its worker, runs again on a new pool process, and the run succeeds",
            faults_jobs.slow_chain,
            faults,
            _kill_the_pool_process_running_slow,
        ),
        Story(
            "retry",
            "retried: `flaky` (RetryPolicy(max_retries=1)) fails its first attempt and succeeds "
            "its second",
            cli_jobs.retried,
            cli,
        ),
        Story(
            "cancel",
            "hangs: canceled while `hang` runs (hang2 and hang3 queued behind it on the one "
            "pool process); every step not final is canceled",
            faults_jobs.hangs,
            faults,
            _cancel_once_hang_runs,
        ),
        Story(
            "dynamic_map",
            "flaky_pipeline, fixed: `fan` yields 3 mapped outputs, `piece` runs once per key, "
            "`gather` collects them; every step succeeds",
            faults_jobs.flaky_pipeline,
            faults,
            env={"FIXED": str(fixed)},
        ),
        Story(
            "mixed",
            "event_job: an optional output never yielded (`on_large` skipped), a mapped fan-out, "
            "a retry, and a failure that abandons the step downstream of it",
            fuzz_jobs.event_job,
            fuzz,
        ),
    ]


def record(story: Story, server: RedisServer, logs: Path) -> None:
    """Run ``story`` on a fresh namespace and write its three files next to this one."""
    namespace = f"record-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        redis_url=server.url,
        namespace=namespace,
        secret="record-secret",
        default_queue=namespace,
        block_s=0.3,
    )
    folder = logs / story.name
    folder.mkdir()
    procs = Processes(settings, folder, **story.env)
    try:
        worker = procs.worker("w1", location=story.location)
        fast = fast_settings(settings)
        with local_coordinator(fast):
            handle = submit(story.job, settings=fast)
            try:
                if story.action is not None:
                    story.action(procs, worker, handle)
                handle.wait(timeout=RUN_TIMEOUT_S)
            finally:
                handle.close()
    finally:
        procs.stop_all()
    store = RedisRunStore.from_settings(settings)
    try:
        _write(story, store, handle.run_id)
    finally:
        store.client.close()


def _write(story: Story, store: RedisRunStore, run_id: str) -> None:
    plan = store.get_plan(run_id)
    run = store.get_run(run_id)
    lines = []
    for _, event in store.read_events(run_id):
        if event.error is not None:
            event = event.model_copy(update={"error": event.error.model_copy(update={"stack": ""})})
        lines.append(event.model_dump_json())
    outcome = {
        "story": story.description,
        "job": story.job.name,
        "reused": run.reused,
        "run_status": run.status.value,
        "statuses": dict(sorted(store.step_statuses(run_id).items())),
    }
    (HERE / f"{story.name}.plan.json").write_text(plan.model_dump_json(indent=1) + "\n")
    (HERE / f"{story.name}.jsonl").write_text("\n".join(lines) + "\n")
    (HERE / f"{story.name}.outcome.json").write_text(json.dumps(outcome, indent=1) + "\n")
    print(f"{story.name}: {run.status.value}, {len(lines)} events")


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="opgrid-record-") as tmp:
        stories = _stories(Path(tmp) / "fixed")
        (Path(tmp) / "fixed").touch()
        unknown = set(names) - {story.name for story in stories}
        if unknown:
            raise SystemExit(f"no such story: {', '.join(sorted(unknown))}")
        logs = Path(tmp) / "logs"
        logs.mkdir()
        with RedisServer() as server:
            for story in stories:
                if not names or story.name in names:
                    record(story, server, logs)


if __name__ == "__main__":
    main(sys.argv[1:])
