"""The cluster commands of ``opgrid`` on a real redis-server with real worker processes.

``opgrid dev`` runs as the installed console script, as a user would run it, and
must leave no process behind. The other commands run in process (``CliRunner``)
against the session's redis-server, with a worker started by ``opgrid worker``
in a subprocess that loads ``cli_cluster_jobs.py`` by the same relative path that
``job submit -f`` gives, so the worker finds the job by location and name.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opgrid.orchestrator.cli import main
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import (
    OPGRID,
    ROOT,
    cluster_env,
    environment,
    start,
    stop,
    worker_process,
)

pytestmark = pytest.mark.integration

#: The code location, relative to ROOT: workers and submitters must name it alike.
JOBS = "tests/jobs/cli_cluster_jobs.py"
#: ``opgrid dev`` options: a cluster that stays up, with one worker.
KEEP_ONE_WORKER = ("--keep-running", "--workers", "1")
#: Longest a run may take here, worker start-up included.
RUN_TIMEOUT_S = "20"


@pytest.fixture
def opgrid(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """opgrid(ARGS...) in process, against the test's namespace; fails on a crash."""
    monkeypatch.chdir(ROOT)

    def run(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=cluster_env(settings))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"opgrid {' '.join(args)} crashed:\n{result.output}") from (
                result.exception
            )
        return result

    return run


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """``opgrid worker -f JOBS`` in a subprocess (solo pool); yields the path of its log."""
    log = tmp_path / "worker.log"
    with worker_process(settings, log, JOBS):
        yield log


def _run_id(output: str) -> str:
    found = re.search(r"^run (\S+) of job '\w+' submitted$", output, flags=re.M)
    assert found, output
    return found.group(1)


# opgrid job submit / run ... --------------------------------------------------------------


def test_submit_coordinate_wait_runs_on_a_worker_process_and_the_run_views_show_it(opgrid, worker):
    result = opgrid(
        "job", "submit", "-f", JOBS, "-j", "greeting", "--coordinate", "--wait",
        "--timeout", RUN_TIMEOUT_S,
    )  # fmt: skip

    assert result.exit_code == 0, result.output + worker.read_text(errors="replace")
    assert "  success  greet" in result.stdout
    assert "  success  count_letters" in result.stdout
    assert "status  success" in result.stdout
    assert "greet - greeting cluster" in result.stderr  # context.log, as Dagster prints it
    run_id = _run_id(result.stdout)

    listed = opgrid("run", "list")
    assert listed.exit_code == 0
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith(run_id)]
    assert row.split()[1:3] == ["greeting", "success"]

    shown = opgrid("run", "show", run_id)
    assert shown.exit_code == 0
    assert re.search(r"^status\s+success$", shown.stdout, flags=re.M)
    assert re.search(r"^location\s+tests/jobs/cli_cluster_jobs.py$", shown.stdout, flags=re.M)
    assert re.search(r"^  success\s+greet\b", shown.stdout, flags=re.M)
    assert re.search(r"^  success\s+count_letters\b", shown.stdout, flags=re.M)
    assert "errors" not in shown.stdout

    logs = opgrid("run", "logs", run_id).stdout.splitlines()
    kinds = [line.split()[2] for line in logs]
    assert kinds[0] == "RUN_START" and kinds[-1] == "RUN_SUCCESS"
    assert kinds.count("STEP_SUCCESS") == 2
    assert any(re.search(r"LOG INFO\s+greet\s+greeting cluster$", line) for line in logs)


def test_a_failing_run_exits_1_and_shows_its_error(opgrid, worker):
    result = opgrid(
        "job", "submit", "-f", JOBS, "-j", "broken", "--coordinate", "--timeout", RUN_TIMEOUT_S
    )

    assert result.exit_code == 1, result.output + worker.read_text(errors="replace")
    assert "failure  explode  ValueError: the cluster test op failed on purpose" in result.stdout
    assert "status  failure" in result.stdout
    assert "never_runs" not in result.stdout  # abandoned, never started
    shown = opgrid("run", "show", _run_id(result.stdout))
    assert re.search(r"^  abandoned\s+never_runs$", shown.stdout, flags=re.M)
    assert "explode  ValueError: the cluster test op failed on purpose" in shown.stdout


def test_run_show_prints_output_and_failure_metadata_in_text_and_json(opgrid, worker):
    result = opgrid(
        "job", "submit", "-f", JOBS, "-j", "measured", "--coordinate", "--timeout", RUN_TIMEOUT_S
    )  # fmt: skip
    assert result.exit_code == 1, result.output + worker.read_text(errors="replace")
    run_id = _run_id(result.stdout)

    shown = opgrid("run", "show", run_id).stdout
    assert "      output result: rows=3, source='s3://bucket/key'" in shown
    assert "      output result: mean=1.5" in shown
    assert "      failure metadata: rows=3, minimum=10" in shown
    assert "validate  Failure: too few rows" in shown
    data = json.loads(opgrid("run", "show", run_id, "--json").stdout)
    steps = {step["step_key"]: step for step in data["steps"]}
    assert steps["load"]["output_metadata"] == {"result": {"rows": 3, "source": "s3://bucket/key"}}
    assert steps["summarize"]["output_metadata"] == {"result": {"mean": 1.5}}
    assert steps["summarize"]["failure_metadata"] == {}
    assert steps["validate"]["status"] == "failure"
    assert steps["validate"]["failure_metadata"] == {"rows": 3, "minimum": 10}
    assert steps["validate"]["output_metadata"] == {}


def test_submit_without_wait_prints_the_run_id_and_cancel_stops_the_queued_run(opgrid):
    submitted = opgrid("job", "submit", "-f", JOBS, "-j", "greeting", "--tag", "who=test")

    assert submitted.exit_code == 0
    run_id = submitted.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", run_id)
    assert "no coordinator is alive" in submitted.stderr
    shown = opgrid("run", "show", run_id)
    assert re.search(r"^status\s+queued$", shown.stdout, flags=re.M)
    assert re.search(r"^tags\s+.*who=test", shown.stdout, flags=re.M)

    canceled = opgrid("run", "cancel", run_id)
    assert canceled.exit_code == 0
    assert canceled.stdout.strip() == f"cancel requested for run {run_id}"
    assert "RUN_CANCELING" in opgrid("run", "logs", run_id).stdout  # no coordinator yet


def test_unknown_run_id_is_one_line_and_exit_2(opgrid, settings):
    for command in ("show", "logs", "cancel"):
        result = opgrid("run", command, "no-such-run")

        assert result.exit_code == 2
        assert result.stderr == f"Error: no run 'no-such-run' in namespace '{settings.namespace}'\n"


def test_submit_with_a_bad_config_exits_2_and_queues_nothing(opgrid, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("ops:\n  greet:\n    config: {name: 3}\n")

    result = opgrid("job", "submit", "-f", JOBS, "-j", "greeting", "-c", str(config))

    assert result.exit_code == 2
    assert "invalid run config for job 'greeting'" in result.stderr
    assert "ops.greet.config.name" in result.stderr
    assert opgrid("run", "list").stdout == ""


# opgrid dev ----------------------------------------------------------------------------------


def _processes_in(namespace: str) -> list[int]:
    """Live processes whose environment names this namespace (workers; not redis-server,
    which overwrites its environment with its process title)."""
    marker = f"OPGRID_NAMESPACE={namespace}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in environ.split(b"\0") and _alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reported_pids(stderr: str) -> list[int]:
    """The redis-server and worker pids ``opgrid dev`` reported on stderr."""
    listed = " ".join(re.findall(r"\(pid ([\d, ]+)\)", stderr))
    return [int(pid) for pid in re.findall(r"\d+", listed)]


def test_dev_runs_hello_on_its_own_redis_and_workers_and_leaves_no_process(namespace):
    completed = subprocess.run(
        [OPGRID, "dev", "-f", "examples/hello.py", "-j", "hello"],
        cwd=ROOT,
        env=environment(OPGRID_NAMESPACE=namespace),
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    for step in ("pick_name", "calm_greetings.hello_en", "calm_greetings.join_lines", "say"):
        assert f"  success  {step}" in out
    assert "  skipped  yell" in out
    assert "status  success" in out
    assert re.search(r"^  say\s+3$", out, flags=re.M)  # the outputs summary
    assert "say - Hello, world!" in completed.stderr  # context.log from a worker process
    assert "started redis-server" in completed.stderr
    assert "Traceback" not in out + completed.stderr
    pids = _reported_pids(completed.stderr)
    assert len(pids) == 3, completed.stderr  # redis-server and two workers
    assert [pid for pid in pids if _alive(pid)] == []
    assert _processes_in(namespace) == []


def test_dev_keep_running_stops_everything_on_ctrl_c(namespace, tmp_path):
    err = tmp_path / "dev.err"
    process = start(
        [OPGRID, "dev", "-f", "examples/hello.py", "-j", "polyglot", *KEEP_ONE_WORKER],
        environment(OPGRID_NAMESPACE=namespace),
        tmp_path / "dev.out",
        stderr=err,
    )
    try:
        deadline = time.monotonic() + 20
        while "keeps running" not in err.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, err.read_text()
            time.sleep(0.1)
        pids = _reported_pids(err.read_text())
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)  # redis-server, one worker
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=15) == 0, err.read_text()
    finally:
        if process.poll() is None:  # the test failed: still let it stop what it started
            stop(process)
    assert [pid for pid in pids if _alive(pid)] == []
    assert _processes_in(namespace) == []


def test_submit_with_an_op_selection_runs_only_the_selected_ops_on_a_worker(opgrid, worker):
    result = opgrid(
        "job", "submit", "-f", JOBS, "-j", "greeting", "--op-selection", "greet",
        "--coordinate", "--wait", "--timeout", RUN_TIMEOUT_S,
    )  # fmt: skip

    assert result.exit_code == 0, result.output + worker.read_text(errors="replace")
    assert "  success  greet" in result.stdout
    assert "count_letters" not in result.stdout
    shown = opgrid("run", "show", _run_id(result.stdout))
    assert re.search(r"^steps \(1\)$", shown.stdout, flags=re.M), shown.stdout


def test_an_op_selection_naming_no_op_is_one_line_and_exit_2(opgrid):
    result = opgrid("job", "submit", "-f", JOBS, "-j", "greeting", "--op-selection", "nope")
    assert result.exit_code == 2
    assert "no node named nope" in result.stderr
    assert "Traceback" not in result.output
