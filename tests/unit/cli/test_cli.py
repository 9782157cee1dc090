"""The ``opgrid`` command line: ``job list`` and ``job execute``.

Most tests drive the click command in process with ``CliRunner``; one runs the
installed console script on the project's main example. Ops of
``tests/jobs/cli_jobs.py`` report what they saw through ``context.log``, which the
in-process executor writes to stderr.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opgrid.orchestrator.cli import main
from opgrid.orchestrator.cli.options import parse_tags, read_run_config

ROOT = Path(__file__).resolve().parents[3]
JOBS_DIR = ROOT / "tests" / "jobs"
JOBS = str(JOBS_DIR / "cli_jobs.py")
HELLO = str(ROOT / "examples" / "hello.py")


def opgrid(*args: str) -> Result:
    """Run ``opgrid ARGS`` in process; fail on a crash (anything but a clean exit)."""
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"opgrid {' '.join(args)} crashed:\n{result.output}") from (
            result.exception
        )
    return result


def execute(*args: str) -> Result:
    return opgrid("job", "execute", "-f", JOBS, *args)


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> path of a new file under tmp_path."""

    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write


# job list ------------------------------------------------------------------------------


def test_list_prints_one_line_per_job_with_op_count_and_first_description_line():
    result = opgrid("job", "list", "-f", JOBS)

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "broken",
        "greeting",
        "nested",
        "retried",
        "tagged",
    ]
    greeting_line = lines[1]
    assert "1 op " in greeting_line
    assert greeting_line.endswith("Greet someone.")  # first line only
    assert "2 ops" in lines[0]


def test_list_counts_ops_inside_nested_graphs():
    result = opgrid("job", "list", "-f", JOBS)

    nested = next(line for line in result.stdout.splitlines() if line.startswith("nested"))
    assert "5 ops" in nested


def test_list_loads_a_module_by_name_from_the_working_directory(monkeypatch):
    monkeypatch.chdir(JOBS_DIR)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        result = opgrid("job", "list", "-m", "cli_jobs")
    finally:
        sys.modules.pop("cli_jobs", None)

    assert result.exit_code == 0
    assert "greeting" in result.stdout


def test_list_without_file_or_module_is_a_usage_error():
    result = opgrid("job", "list")

    assert result.exit_code == 2
    assert "-f/--file or -m/--module" in result.stderr


# job execute: runs -----------------------------------------------------------------------


def test_execute_success_prints_step_lines_and_summary_and_exits_0(write):
    config = write("run.yaml", "ops: {greet: {config: {greeting: Hi}}}\n")

    result = execute("-j", "greeting", "-c", config)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "run " in out and "of job 'greeting'" in out
    assert "  start    greet" in out
    assert "  success  greet  " in out
    assert "status  success" in out
    assert "steps   1 success" in out
    assert "run id  " in out and "time    " in out


def test_execute_shows_log_lines_on_stderr_only_once():
    result = execute("-j", "tagged")

    assert result.exit_code == 0
    assert result.stderr.count("tags: ") == 1
    assert "tags: " not in result.stdout


def test_execute_runs_the_only_job_when_no_job_is_named(write):
    source = "from opgrid import job, op\n\n@op\ndef noop():\n    pass\n\n"
    location = write("single.py", source + "@job\ndef only():\n    noop()\n")

    result = opgrid("job", "execute", "-f", location)

    assert result.exit_code == 0, result.output
    assert "of job 'only'" in result.stdout


def test_execute_needs_a_job_name_when_the_location_has_several():
    result = execute()

    assert result.exit_code == 2
    assert "choose one with -j" in result.stderr
    assert "greeting" in result.stderr


def test_execute_failing_op_exits_1_showing_error_class_and_no_traceback():
    result = execute("-j", "broken")

    assert result.exit_code == 1
    assert "  failure  explode  ValueError: boom: the op blew up" in result.stdout
    assert "status  failure" in result.stdout
    assert "1 failure, 1 abandoned" in result.stdout
    assert "Traceback" not in result.output


def test_execute_verbose_prints_the_failing_ops_stack():
    result = execute("-j", "broken", "--verbose")

    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stdout
    assert 'raise ValueError("boom: the op blew up")' in result.stdout


def test_execute_prints_a_retry_then_a_restart_and_succeeds():
    result = execute("-j", "retried")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "  retry    flaky  ConnectionError: first attempt fails (retry 1 in 0s)" in out
    assert "  restart  flaky  retry 1" in out
    assert out.index("retry    flaky") < out.index("restart  flaky") < out.index("success  flaky")


def test_execute_prints_skipped_steps_of_the_branch_not_taken():
    result = opgrid("job", "execute", "-f", HELLO, "-j", "hello")

    assert result.exit_code == 0, result.output
    assert "  skipped  yell  " in result.stdout
    assert "  success  say  " in result.stdout


def test_execute_feeds_the_jobs_own_input_values():
    result = opgrid("job", "execute", "-f", HELLO, "-j", "polyglot")

    assert result.exit_code == 0, result.output
    assert "  success  join_lines  " in result.stdout


# job execute: config, tags ------------------------------------------------------------------


def test_execute_applies_the_config_file(write):
    config = write("run.yaml", "ops:\n  greet:\n    config:\n      greeting: Bonjour\n")

    result = execute("-j", "greeting", "-c", config)

    assert result.exit_code == 0, result.output
    assert "said: Bonjour, world" in result.stderr


def test_execute_deep_merges_several_config_files_in_order(write):
    first = write("a.yaml", "ops: {greet: {config: {greeting: Hello, name: Ada}}}\n")
    second = write("b.yaml", "ops: {greet: {config: {name: Grace}}}\n")

    result = execute("-j", "greeting", "-c", first, "-c", second)

    assert result.exit_code == 0, result.output
    assert "said: Hello, Grace" in result.stderr


def test_execute_bad_config_exits_2_listing_dotted_paths_without_traceback(write):
    config = write("bad.yaml", "ops: {greet: {config: {greeting: 3, nme: x}}}\n")

    result = execute("-j", "greeting", "-c", config)

    assert result.exit_code == 2
    assert "invalid run config for job 'greeting' (2 errors)" in result.stderr
    assert "  ops.greet.config.greeting: " in result.stderr
    assert "  ops.greet.config.nme: " in result.stderr
    assert "Traceback" not in result.output
    assert "start" not in result.stdout  # nothing ran


def test_execute_missing_required_config_exits_2_naming_the_field():
    result = execute("-j", "greeting")

    assert result.exit_code == 2
    assert "ops.greet.config.greeting" in result.stderr


def test_execute_unparseable_yaml_exits_2_with_one_line_naming_the_file(write):
    config = write("broken.yaml", "ops: [greet\n")

    result = execute("-j", "greeting", "-c", config)

    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1
    assert f"config file {config!r} is not valid YAML" in errors[0]
    assert "line " in errors[0]
    assert "Traceback" not in result.output


def test_execute_yaml_that_is_not_a_mapping_exits_2(write):
    config = write("list.yaml", "- ops\n")

    result = execute("-j", "greeting", "-c", config)

    assert result.exit_code == 2
    assert "must hold a mapping" in result.stderr


def test_execute_missing_config_file_exits_2_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere.yaml")

    result = execute("-j", "greeting", "-c", missing)

    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: config file {missing!r} does not exist"


def test_execute_passes_tags_to_context_run_tags():
    result = execute("-j", "tagged", "--tag", "team=data", "--tag", "note=a=b")

    assert result.exit_code == 0, result.output
    assert "tags: note=a=b,owner=cli-tests,team=data" in result.stderr


def test_execute_rejects_a_tag_without_equals_sign():
    result = execute("-j", "tagged", "--tag", "team")

    assert result.exit_code == 2
    assert "'team' is not KEY=VALUE" in result.stderr


def test_execute_partition_of_an_unpartitioned_job_exits_2():
    result = execute("-j", "greeting", "--partition", "2024-01-01")

    assert result.exit_code == 2
    assert "no partitioned config" in result.stderr


# job execute: loading ---------------------------------------------------------------------


def test_execute_missing_code_location_file_exits_2_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere.py")

    result = opgrid("job", "execute", "-f", missing, "-j", "x")

    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: code location file {missing!r} does not exist"


def test_execute_unknown_job_exits_2_listing_the_jobs_there():
    result = execute("-j", "nope")

    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1
    assert "has no job 'nope'" in errors[0]
    assert "broken, greeting, nested, retried, tagged" in errors[0]


def test_execute_location_that_fails_to_import_exits_2_without_traceback(write):
    location = write("bad_import.py", "import opgrid_no_such_module\n")

    result = opgrid("job", "execute", "-f", location)

    assert result.exit_code == 2
    assert "ModuleNotFoundError: No module named 'opgrid_no_such_module'" in result.stderr
    assert "Traceback" not in result.output


# helpers --------------------------------------------------------------------------------


def test_parse_tags_splits_on_the_first_equals_sign():
    assert parse_tags(("a=1", "b=x=y", "c=")) == {"a": "1", "b": "x=y", "c": ""}


def test_read_run_config_is_none_without_files_so_the_job_default_applies():
    assert read_run_config(()) is None


def test_read_run_config_lets_later_files_win_key_by_key(write):
    first = write("a.yaml", "ops: {x: {config: {a: 1, b: 1}}}\nresources: {r: {config: 1}}\n")
    second = write("b.yaml", "ops: {x: {config: {b: 2}}}\n")

    assert read_run_config((first, second)) == {
        "ops": {"x": {"config": {"a": 1, "b": 2}}},
        "resources": {"r": {"config": 1}},
    }


# the installed console script -------------------------------------------------------------


def test_installed_console_script_runs_the_hello_example_green():
    script = Path(sys.executable).parent / "opgrid"
    assert script.exists(), f"console script not installed next to {sys.executable}"

    completed = subprocess.run(
        [str(script), "job", "execute", "-f", "examples/hello.py", "-j", "hello"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "status  success" in completed.stdout
    assert "Hello, world!" in completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
