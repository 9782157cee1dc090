"""The UI's pure parts: auth policy, masking, graph layout, attempt timelines, scaffolds."""

from __future__ import annotations

import pytest

from opgrid import Config, Field, job, op
from opgrid.errors import DagsterInvariantViolationError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.ui.auth import AuthPolicy, is_loopback
from opgrid.orchestrator.ui.config_schema import scaffold_yaml
from opgrid.orchestrator.ui.graph_svg import GraphNode, layers, render
from opgrid.orchestrator.ui.redact import redacted
from opgrid.orchestrator.ui.run_view import build_attempts


class StoreConfig(Config):
    path: str
    retries: int = 3
    password: str = "letmein"


def test_binding_beyond_loopback_needs_a_token_unless_no_auth():
    with pytest.raises(DagsterInvariantViolationError, match="OPGRID_UI_TOKEN"):
        AuthPolicy.build("0.0.0.0", None, False, "s")
    assert AuthPolicy.build("0.0.0.0", None, True, "s").token is None
    assert AuthPolicy.build("127.0.0.1", None, False, "s").loopback_only
    assert not AuthPolicy.build("10.1.2.3", "t", False, "s").loopback_only
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("example.com")


def test_a_token_is_accepted_by_bearer_header_or_session_cookie_only():
    policy = AuthPolicy.build("127.0.0.1", "tok", False, "s")
    assert policy.authenticated({"authorization": "Bearer tok"}, {})
    assert not policy.authenticated({"authorization": "Bearer nope"}, {})
    assert policy.authenticated({}, {"opgrid_ui_session": policy.session_value()})
    assert not policy.authenticated({}, {"opgrid_ui_session": "tok"})
    assert not policy.authenticated({}, {})


def test_csrf_needs_same_origin_and_json_a_header_or_a_bearer_token():
    policy = AuthPolicy.build("127.0.0.1", None, False, "s")
    host = {"host": "127.0.0.1:3000"}
    assert policy.csrf_ok({**host, "content-type": "application/json"})
    assert not policy.csrf_ok({**host, "content-type": "application/x-www-form-urlencoded"})
    assert policy.csrf_ok({**host, "x-opgrid-csrf": policy.csrf_token})
    assert not policy.csrf_ok({**host, "x-opgrid-csrf": "guess"})
    assert not policy.csrf_ok(
        {**host, "origin": "http://evil.example", "content-type": "application/json"}
    )
    assert policy.csrf_ok(
        {**host, "origin": "http://127.0.0.1:3000", "x-opgrid-csrf": policy.csrf_token}
    )
    assert AuthPolicy.build("::1", None, False, "other").csrf_token != policy.csrf_token


def test_secret_looking_values_and_url_passwords_are_masked():
    masked = redacted(
        {
            "password": "p",
            "API_KEY": "k",
            "nested": {"db_token": "t", "name": "n"},
            "url": "redis://:hunter2@host:6379/0",
            "items": ["postgres://u:pw@h/db"],
        }
    )
    assert masked == {
        "password": "***",
        "API_KEY": "***",
        "nested": {"db_token": "***", "name": "n"},
        "url": "redis://:***@host:6379/0",
        "items": ["postgres://u:***@h/db"],
    }


def test_layers_follow_the_longest_path_and_survive_cycles_and_unknown_ends():
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("x", "c")]
    assert layers(["a", "b", "c", "d"], edges) == {"a": 0, "b": 1, "c": 2, "d": 0}
    cyclic = layers(["a", "b", "c"], [*edges, ("c", "a")])
    assert sorted(cyclic) == ["a", "b", "c"]
    svg = render([GraphNode("a", "<a>"), GraphNode("b", "b")], [("a", "b")])
    assert "&lt;a&gt;" in svg and "<a>" not in svg.replace("<a href", "")


def test_attempts_carry_queue_wait_retries_redeliveries_and_the_claiming_worker():
    @op
    def one() -> int:
        return 1

    @op
    def two(value: int) -> int:
        return value

    @job
    def pair():
        two(one())

    plan = compile_plan(pair)
    record = RunRecord(run_id="r", job_name="pair", created_at=100.0)

    def ev(kind, t, step=None, attempt=0, **extra):
        return RunEvent(run_id="r", kind=kind, timestamp=t, step_key=step, attempt=attempt, **extra)

    events = [
        ev(E.RUN_START, 100.0),
        ev(E.STEP_START, 100.5, "one"),
        ev(E.STEP_SUCCESS, 101.0, "one"),
        ev(E.STEP_START, 101.25, "two"),
        ev(E.STEP_UP_FOR_RETRY, 102.0, "two", retry_delay_s=1.0),
        ev(E.ENGINE_EVENT, 104.0, "two", 1, message="worker was lost; delivering it again"),
        ev(E.STEP_RESTARTED, 104.5, "two", 1),
        ev(E.STEP_SUCCESS, 105.0, "two", 1),
    ]
    attempts = build_attempts(plan, record, events, {"two": (1, "host-b", "4242")})
    by_key = {(a.step_key, a.number): a for a in attempts}
    assert by_key[("one", 0)].queue_wait_s == pytest.approx(0.5)
    assert by_key[("two", 0)].queue_wait_s == pytest.approx(0.25)
    assert by_key[("two", 0)].outcome == "up_for_retry"
    retry = by_key[("two", 1)]
    assert retry.queue_wait_s == pytest.approx(1.5)  # due at 103.0 (retry delay), began 104.5
    assert retry.outcome == "success"
    assert retry.redeliveries == ["worker was lost; delivering it again"]
    assert (retry.host, retry.pid) == ("host-b", "4242")
    assert by_key[("one", 0)].host == ""


def test_each_attempt_shows_the_worker_its_start_event_names():
    @op
    def solo() -> int:
        return 1

    @job
    def single():
        solo()

    plan = compile_plan(single)
    record = RunRecord(run_id="r", job_name="single", created_at=100.0)
    events = [
        RunEvent(run_id="r", kind=E.STEP_START, timestamp=100.1, step_key="solo",
                 worker="host-a/11"),
        RunEvent(run_id="r", kind=E.STEP_UP_FOR_RETRY, timestamp=100.2, step_key="solo"),
        RunEvent(run_id="r", kind=E.STEP_RESTARTED, timestamp=100.3, step_key="solo",
                 attempt=1, worker="host-b/22"),
        RunEvent(run_id="r", kind=E.STEP_SUCCESS, timestamp=100.4, step_key="solo", attempt=1),
    ]  # fmt: skip
    attempts = build_attempts(plan, record, events, {"solo": (1, "host-c", "33")})
    assert [(a.number, a.host, a.pid) for a in attempts] == [
        (0, "host-a", "11"),
        (1, "host-b", "22"),
    ]


def test_the_launchpad_scaffold_fills_defaults_and_masks_secrets():
    @op(config_schema={"size": Field(int, default_value=5), "name": str})
    def plain(context) -> None:
        return None

    @op
    def typed(config: StoreConfig) -> None:
        return None

    @job
    def scaffolded():
        plain()
        typed()

    text = scaffold_yaml(scaffolded)
    assert "size: 5" in text and "name: ''" in text
    assert "path: ''" in text and "retries: 3" in text
    assert "letmein" not in text and "password: '***'" in text


def test_only_the_cluster_module_imports_the_rest_of_opgrid():
    import ast
    from pathlib import Path

    import opgrid.orchestrator.ui as ui

    root = Path(ui.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "cluster.py" and path.parent == root:
            continue
        depth = len(path.relative_to(root).parts)  # ui/x.py: 1; ui/gql/x.py: 2
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                outside = node.level > depth or (
                    node.level == 0 and (node.module or "").startswith("opgrid")
                )
                if outside:
                    offenders.append(
                        f"{path.relative_to(root)}: from {'.' * node.level}{node.module}"
                    )
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{path.relative_to(root)}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("opgrid")
                ]
    assert offenders == []


def test_a_fan_is_drawn_with_its_source_and_sink_mid_fan_and_a_chain_straight():
    from opgrid.orchestrator.ui.graph_svg import layout

    fan = ["s", "a", "b", "c", "t"]
    places = layout(fan, [("s", "a"), ("s", "b"), ("s", "c"), ("a", "t"), ("b", "t"), ("c", "t")])
    assert places["s"][1] == places["b"][1] == places["t"][1]
    assert places["a"][1] < places["b"][1] < places["c"][1]
    chain = layout(["x", "y", "z"], [("x", "y"), ("y", "z")])
    assert len({y for _, y in chain.values()}) == 1
    assert chain["x"][0] < chain["y"][0] < chain["z"][0]


def test_the_raw_prefilter_never_drops_a_run_the_filter_accepts():
    from opgrid.orchestrator.ui.runs_query import RunFilter

    record = RunRecord(run_id="r1", job_name='jöb "q"', tags={"clé/é": "v"}, created_at=1.0)
    raw = record.model_dump_json().encode()
    accepting = RunFilter(job='jöb "q"', statuses=frozenset({"queued"}), tags=(("clé/é", "v"),))
    assert accepting.matches(record)
    assert all(needle in raw for needle in accepting.needles())
    assert not RunFilter(job="job").matches(record)
    assert not RunFilter(tags=(("clé/é", "w"),)).matches(record)
