"""``opgrid schedule``, ``opgrid sensor``, ``opgrid job backfill`` and ``opgrid backfill``
against a real Redis, with what a worker would publish (no cluster processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opgrid.code_location import load_code_location
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.scheduling.definitions import instigator_defs
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore

pytestmark = pytest.mark.integration

JOBS = Path(__file__).resolve().parents[1] / "jobs"
SENSORS = str(JOBS / "schedules_jobs.py")
CLOCK = str(JOBS / "clock_jobs.py")


@pytest.fixture
def opgrid(settings: Settings) -> Iterator[Callable[..., Result]]:
    store = RedisRunStore.from_settings(settings)
    for path in (SENSORS, CLOCK):  # as the workers of both locations would at start
        store.publish_instigators(instigator_defs(load_code_location(file=path), "q"))
    store.client.close()
    prefix = ["--redis-url", settings.redis_url, "--namespace", settings.namespace]

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, [*prefix, *args], env=env)

    yield run


def test_schedules_are_listed_turned_off_and_on_and_previewed(opgrid) -> None:
    listed = opgrid("schedule", "list")
    assert listed.exit_code == 0 and "every_minute  RUNNING  * * * * *" in listed.output
    assert opgrid("schedule", "stop", "every_minute").output == "schedule every_minute stopped\n"
    assert "every_minute  STOPPED" in opgrid("schedule", "list").output
    assert opgrid("schedule", "start", "every_minute").exit_code == 0
    assert "every_minute  RUNNING" in opgrid("schedule", "list", "-f", CLOCK).output
    unknown = opgrid("schedule", "start", "nope")
    assert unknown.exit_code == 2 and "no schedule 'nope' is known" in unknown.output
    assert "no ticks recorded" in opgrid("schedule", "ticks", "every_minute").output
    preview = opgrid("schedule", "preview", "every_minute", "-f", CLOCK, "--ticks", "2")
    assert preview.exit_code == 0, preview.output
    assert preview.output.count("RUN      minutely_job") == 2


def test_sensors_are_listed_previewed_and_their_cursor_set(opgrid, tmp_path: Path) -> None:
    listed = opgrid("sensor", "list").output
    assert "keyed  RUNNING  every 1s  job=keyed_job" in listed
    assert "on_doomed_failure  RUNNING  every 1s  run_status=FAILURE" in listed
    assert opgrid("sensor", "cursor", "keyed").output == "(no cursor)\n"
    opgrid("sensor", "cursor", "keyed", "--set", "abc")
    assert opgrid("sensor", "cursor", "keyed").output == "abc\n"
    keys = tmp_path / "keys.txt"
    keys.write_text("a\nb\n")
    preview = opgrid("sensor", "preview", "keyed", "-f", SENSORS, env={"KEYS_FILE": str(keys)})
    assert preview.exit_code == 0, preview.output
    assert "run_key=a" in preview.output and "run_key=b" in preview.output
    missing = opgrid("sensor", "preview", "nope", "-f", SENSORS)
    assert missing.exit_code == 2 and "has no sensor 'nope'" in missing.output


def test_a_backfill_is_submitted_listed_shown_and_canceled(opgrid) -> None:
    submitted = opgrid(
        "job", "backfill", "-f", SENSORS, "-j", "numbered", "--partitions", "p00,p01"
    )
    assert submitted.exit_code == 0, submitted.output
    backfill_id = submitted.output.split()[1].rstrip(":")
    assert "no coordinator is alive" in submitted.output  # nothing launches it here
    assert f"{backfill_id}  REQUESTED  numbered  0/2 finished" in opgrid("backfill", "list").output
    shown = opgrid("backfill", "show", backfill_id).output
    assert "p00                  waiting" in shown and "p01                  waiting" in shown
    assert "canceled" in opgrid("backfill", "cancel", backfill_id).output
    again = opgrid("backfill", "cancel", backfill_id)
    assert again.exit_code == 2 and "is canceled already" in again.output
    plain = opgrid("job", "backfill", "-f", SENSORS, "-j", "keyed_job", "--all")
    assert plain.exit_code == 2 and "is not partitioned" in plain.output
    unknown = opgrid("job", "backfill", "-f", SENSORS, "-j", "numbered", "--partitions", "zz")
    assert unknown.exit_code == 2 and "'zz' is not a partition" in unknown.output
