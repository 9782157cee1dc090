"""The Prometheus rules, scrape config and Grafana dashboard under deploy/prometheus parse,
and name only metrics that a coordinator really serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import fakeredis
import pytest
import yaml

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.metrics import PrometheusMetrics
from opgrid.orchestrator.protocol.events import run_event
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepRequest
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.scheduler.metrics import SchedulerMetrics
from opgrid.orchestrator.scheduling.backfill import Backfill
from opgrid.orchestrator.scheduling.evaluation import InstigatorType, TickRequest
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.tick_records import (
    BackfillProgressRecord,
    BackfillRecord,
    TickRecord,
)

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "prometheus"
#: A metric name in a PromQL expression: ours, the process's, the interpreter's.
_METRIC = re.compile(r"\b((?:opgrid|process|python)_[a-z_]+)\b")
#: Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up"}


@pytest.fixture(scope="module")
def served() -> set[str]:
    """Every sample name a coordinator's metrics (its scheduler's included) serve once a run
    and a tick have gone through and a backfill is in progress."""
    client = fakeredis.FakeRedis()
    store = RedisRunStore(client, Keys("monitoring"), run_ttl_s=60)
    metrics = PrometheusMetrics(store, Settings(namespace="monitoring"), broker=client)
    record = RunRecord(
        run_id="r", job_name="nightly", created_at=1.0, started_at=1.0, finished_at=3.0
    )
    request = StepRequest(run_id="r", step_key="a", job_name="nightly")
    metrics.before_dispatch([Delivery(request, queue="default")])
    metrics.after_event(record, run_event("r", E.STEP_START, step_key="a"))
    metrics.after_event(record, run_event("r", E.STEP_SUCCESS, step_key="a"))
    done = record.model_copy(update={"status": RunStatus.SUCCESS})
    summary = RunSummary(status=RunStatus.SUCCESS, steps={"a": StepStatus.SUCCESS})
    metrics.after_finish(done, summary)
    scheduler = SchedulerMetrics(metrics.registry)  # as a coordinator's scheduler registers
    tick = TickRecord(
        tick_id="1",
        location="loc",
        timestamp=1.0,
        request=TickRequest(instigator_type=InstigatorType.SENSOR, name="watch"),
        sent_ts=1.0,
        status="failure",
    )
    scheduler.after_tick(tick, [done])
    backfill = Backfill(backfill_id="b", job_name="nightly", partition_keys=["x"], created_ts=1.0)
    scheduler.after_backfills([BackfillProgressRecord(record=BackfillRecord(backfill=backfill))])
    scheduler.after_turn(True)
    names = {sample.name for family in metrics.registry.collect() for sample in family.samples}
    metrics.close()
    client.close()
    return names


def _expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [
        variable["query"]["query"]
        for variable in dashboard["templating"]["list"]
        if isinstance(variable.get("query"), dict)
    ]
    return exprs


def test_the_alert_rules_parse_and_alert_on_a_failed_job() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    failed = alerts["OpgridJobFailed"]
    assert 'opgrid_runs_finished_total{status="failure"}' in failed["expr"]
    assert "by (job)" in failed["expr"] and "{{ $labels.job }}" in failed["annotations"]["summary"]
    for rule in alerts.values():
        assert {"expr", "labels", "annotations"} <= set(rule), rule["alert"]


def test_the_dashboard_parses_and_each_panel_has_queries() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] == "opgrid-cluster"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["targets"] for panel in dashboard["panels"])


def test_the_scrape_config_keeps_the_job_label_of_the_series() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (scrape,) = config["scrape_configs"]
    assert scrape["honor_labels"] is True
    assert config["rule_files"] == ["alerts.yml"]


@pytest.mark.parametrize("expr", _expressions())
def test_every_expression_names_only_metrics_that_are_served(expr: str, served: set[str]) -> None:
    assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
    named = set(_METRIC.findall(expr))
    assert named or any(re.search(rf"\b{own}\b", expr) for own in PROMETHEUS_OWN), expr
    assert named - served == set(), f"{expr!r} names metrics nobody serves"
