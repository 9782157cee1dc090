"""Backfills on a real cluster: the seed's partitioned-config example, one run per
partition, launched by the scheduler of an in-process coordinator."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from opgrid.orchestrator.cli import main
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.cluster import running_cluster
from tests.jobs import schedules_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
#: The code location, as workers and the CLI name it.
LOCATION = str(ROOT / "tests" / "jobs" / "schedules_jobs.py")


def test_the_seed_s_partitioned_config_example_runs_as_a_backfill(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks = tmp_path / "marks.txt"
    monkeypatch.setenv("MARKS", str(marks))
    settings = settings.model_copy(update={"locations": LOCATION})
    with running_cluster(settings):
        args = ["--redis-url", settings.redis_url, "--namespace", settings.namespace]
        args += ["job", "backfill", "-f", LOCATION, "-j", "continent_job", "--all"]
        args += ["--max-concurrent", "3", "--wait", "--timeout", "40"]
        result = CliRunner().invoke(main, args, env={"OPGRID_SECRET": "test-secret"})
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.output
    for continent in jobs.CONTINENTS:
        assert f"{continent:<20} success" in result.output
    lines = marks.read_text().splitlines()
    assert sorted(lines) == sorted(f"continent {c}" for c in jobs.CONTINENTS)
    store = RedisRunStore.from_settings(settings)
    runs = store.list_runs(limit=100)
    assert sorted(r.partition_key or "" for r in runs) == sorted(jobs.CONTINENTS)
    assert all(r.status.value == "success" for r in runs)
    assert all(r.tags["dagster/backfill"] == runs[0].tags["dagster/backfill"] for r in runs)
    store.client.close()
