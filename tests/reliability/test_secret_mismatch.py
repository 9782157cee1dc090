"""Workers and a submitter holding different OPGRID_SECRET values: said aloud, not a hang.

A real ``opgrid worker`` runs with one secret; the test submits with another, and
drives the run with an in-process coordinator holding the submitter's secret. The
submission warns (``SecretMismatchWarning``, naming both fingerprints), and the worker
logs one line for the step it refused that gives its own fingerprint. The worker does
not fail the step: a request signed with another secret cannot be told from a forged
one, and a forger must not be able to fail steps (README, Reliability).
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from opgrid import local_coordinator, submit
from opgrid.errors import SecretMismatchWarning
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.registry import secret_fingerprint
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_a_submitter_with_another_secret_is_warned_and_the_worker_says_why_it_refused(
    settings: Settings, tmp_path
) -> None:
    worker_settings = settings.model_copy(update={"secret": SecretStr("the-workers-secret")})
    procs = Processes(worker_settings, tmp_path)
    try:
        worker = procs.worker("w1")
        store = RedisRunStore.from_settings(settings)
        theirs = secret_fingerprint(b"the-workers-secret")
        mine = secret_fingerprint(settings.secret.get_secret_value().encode())
        assert theirs != mine
        wait_for(lambda: theirs in store.live_fingerprints().values(), 10, worker.text)

        settings = fast_settings(settings)
        with local_coordinator(settings):
            with pytest.warns(SecretMismatchWarning) as warned:
                handle = submit(jobs.single, settings=settings)
            (warning,) = warned
            text = str(warning.message)
            assert f"fingerprint {mine}" in text and theirs in text, text
            assert "another OPGRID_SECRET" in text

            wait_for(lambda: "refused an opgrid.step message" in worker.text(), 20, worker.text)
            assert store.step_statuses(handle.run_id).get("once") == "queued"  # not failed
            handle.cancel()
            assert not handle.wait(timeout=20).success
        line = next(x for x in worker.text().splitlines() if "refused an opgrid.step" in x)
        assert "bad signature" in line and f"fingerprint {theirs}" in line, line
        assert "the-workers-secret" not in worker.text()
        assert procs.marks_of("once", "start") == []
        assert worker.alive()
        store.client.close()
    finally:
        procs.stop_all()


def test_workers_holding_the_submitter_s_secret_give_no_warning(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    store = RedisRunStore.from_settings(settings)
    mine = secret_fingerprint(settings.secret.get_secret_value().encode())
    wait_for(lambda: store.live_fingerprints() == {"w1@" + _host(worker.text()): mine}, 10, str)
    settings = fast_settings(settings)
    with local_coordinator(settings):  # warnings are errors in this suite
        assert submit(jobs.single, settings=settings).wait(timeout=30).success
    store.client.close()


def _host(log: str) -> str:
    """The host part of the worker's node name, from its banner (``w1@<host> ready.``)."""
    line = next(x for x in log.splitlines() if "ready." in x)
    return line.split("w1@", 1)[1].split(" ", 1)[0]


def test_a_step_only_workers_with_another_secret_consume_fails_saying_so(
    settings: Settings, tmp_path
) -> None:
    """They refuse every request, so they are no consumers: after the no-consumer timeout
    the step fails with an error that names the secrets, instead of waiting forever."""
    worker_settings = settings.model_copy(update={"secret": SecretStr("the-workers-secret")})
    procs = Processes(worker_settings, tmp_path)
    try:
        worker = procs.worker("w1")
        store = RedisRunStore.from_settings(settings)
        theirs = secret_fingerprint(b"the-workers-secret")
        wait_for(lambda: theirs in store.live_fingerprints().values(), 10, worker.text)
        settings = fast_settings(settings, no_consumer_timeout_s=3.0)
        with local_coordinator(settings), pytest.warns(SecretMismatchWarning):
            handle = submit(jobs.single, settings=settings)
            result = handle.wait(timeout=30, raise_on_error=False)
        assert not result.success
        (failure,) = [e for e in result.all_events if e.kind is E.STEP_FAILURE]
        assert failure.error is not None and failure.error.cls_name == "StepLost"
        assert "hold another OPGRID_SECRET than this coordinator" in failure.error.message
        assert procs.marks_of("once", "start") == []
        store.client.close()
    finally:
        procs.stop_all()
