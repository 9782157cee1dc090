"""Runs in Redis: records, plans, summaries, step statuses, input refs, events and
outputs; with ``attempts``, ``leases``, ``redis_turns``, ``registry``, ``prune`` and
``ticks``, the whole ``RedisRunStore``.

Every Redis call of opgrid goes through ``RedisRunStore``; every key comes from
``keys.Keys``. ``redis.RedisError`` is translated to ``StorageError`` at this
boundary (``connect.translated``) and nowhere else. Multi-key writes of one run
are MULTI/EXEC transactions or scripts on keys that share the run's hash slot; the
cross-slot indexes are written apart, so a Redis Cluster (``redis_cluster``) takes
every command. There, a coordinator's wait reads the runs' streams apart too
(``cluster_wait``), and every event write by a worker or submitter wakes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster

from opgrid.errors import RunNotFound
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import LOST, claim_of
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepInputs
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES
from opgrid.orchestrator.settings import Settings

from . import cluster_wait
from .archive import RedisEventArchive
from .attempts import RedisAttempts
from .compact import dump_event, dump_plan, load_event, load_plan
from .connect import Client, block_ms, connect_store, translated
from .keys import EVENT_FIELD, Keys, glob_escaped, run_of
from .leases import RedisLeases
from .outputs import RedisOutputStore as RedisOutputStore
from .prune import RedisPruning
from .redis_turns import RedisTurns
from .registry import RedisRegistry
from .scripts import (
    APPEND_LOGS,
    BEAT,
    BEATS,
    BEGIN,
    COMMIT,
    DECLARE_LOST,
    RELEASE,
    RENEW,
    SAVE_CAPTURED,
)
from .sentinel import DurableWrites
from .step_logs import RedisStepLogs
from .ticks import RedisTicks

logger = logging.getLogger(__name__)


#: Submissions kept in the submissions stream (approximate trim).
SUBMISSIONS_MAXLEN = 10_000


class RedisRunStore(
    RedisTurns,
    RedisAttempts,
    RedisEventArchive,
    RedisStepLogs,
    RedisLeases,
    RedisRegistry,
    RedisPruning,
    RedisTicks,
):
    """Runs of one namespace in one Redis or one Redis Cluster: every protocol of ``base``,
    each part in a module of its own (this one: runs, events, progress, outputs)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisRunStore:
        """The run store of the cluster ``settings`` describe."""
        durable = DurableWrites(settings.wait_replicas(), settings.redis_wait_timeout_s)
        return cls(
            connect_store(settings.redis_url),
            Keys(settings.namespace),
            settings.run_ttl_s,
            durable,
        )

    def __init__(
        self,
        client: Client,
        keys: Keys,
        run_ttl_s: float,
        durable: DurableWrites | None = None,
    ) -> None:
        self.client = client
        #: storage is a Redis Cluster: the coordinator's wait reads streams apart
        self.on_cluster = isinstance(client, RedisCluster)
        #: commits wait for replicas to confirm them (under Sentinel)
        self.durable = durable or DurableWrites(0, 1.0)
        # redis-py types replies as unions over its decode modes; this store always
        # runs in bytes mode (``connect``), so replies are read through an untyped handle.
        self._r: Any = client
        self.keys = keys
        self.run_ttl_ms = int(run_ttl_s * 1000)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._begin = client.register_script(BEGIN)
        self._beat = client.register_script(BEAT)
        self._commit = client.register_script(COMMIT)
        self._declare_lost = client.register_script(DECLARE_LOST)
        self._append_logs = client.register_script(APPEND_LOGS)
        self._save_captured = client.register_script(SAVE_CAPTURED)
        self._beats = client.register_script(BEATS)

    # Runs ---------------------------------------------------------------------------
    @translated
    def create_run(self, record: RunRecord, plan: ExecutionPlan) -> None:
        """Store a new run and announce it to coordinators."""
        run_id = record.run_id
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.run(run_id), mapping={"record": record.model_dump_json()})
            pipe.set(self.keys.plan(run_id), dump_plan(plan))
            pipe.execute()
        with self._r.pipeline(transaction=False) as pipe:  # cross-slot indexes
            pipe.zadd(self.keys.runs_index(), {run_id: record.created_at})
            pipe.sadd(self.keys.active(), run_id)
            pipe.xadd(
                self.keys.submissions(),
                {b"run": run_id},
                maxlen=SUBMISSIONS_MAXLEN,
                approximate=True,
            )
            pipe.execute()

    @translated
    def get_run(self, run_id: str) -> RunRecord:
        raw = self._r.hget(self.keys.run(run_id), "record")
        if raw is None:
            raise RunNotFound(f"no run {run_id!r} in namespace {self.keys.namespace!r}")
        return RunRecord.model_validate_json(raw)

    @translated
    def save_run(self, record: RunRecord) -> None:
        self._r.hset(self.keys.run(record.run_id), "record", record.model_dump_json())

    @translated
    def get_plan(self, run_id: str) -> ExecutionPlan:
        raw = self._r.get(self.keys.plan(run_id))
        if raw is None:
            raise RunNotFound(f"no plan for run {run_id!r} in namespace {self.keys.namespace!r}")
        return load_plan(raw)

    @translated
    def get_summary(self, run_id: str) -> RunSummary | None:
        """What the run ended with; None while it runs (or if it ended before summaries)."""
        raw = self._r.hget(self.keys.run(run_id), "summary")
        return RunSummary.model_validate_json(raw) if raw is not None else None

    @translated
    def list_runs(self, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        """The newest runs first, skipping the ``offset`` newest."""
        ids = self._r.zrevrange(self.keys.runs_index(), offset, offset + limit - 1)
        with self._r.pipeline(transaction=False) as pipe:
            for run_id in ids:
                pipe.hget(self.keys.run(run_id.decode()), "record")
            raws = pipe.execute()
        return [RunRecord.model_validate_json(raw) for raw in raws if raw is not None]

    @translated
    def find_run_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of stored runs that start with ``prefix`` (at most ``limit``), sorted."""
        found: set[str] = set()
        pattern = glob_escaped(prefix) + "*"
        for member, _score in self._r.zscan_iter(self.keys.runs_index(), match=pattern):
            found.add(member.decode())
            if len(found) >= limit:
                break
        return sorted(found)

    @translated
    def active_runs(self) -> list[str]:
        return sorted(member.decode() for member in self._r.smembers(self.keys.active()))

    # Events -------------------------------------------------------------------------
    @translated
    def append_events(self, run_id: str, events: Sequence[RunEvent]) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            for event in events:
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: dump_event(event, run_id)})
            pipe.execute()
        self._notify(run_id)

    @translated
    def read_events(self, run_id: str, after: str = "0-0") -> list[tuple[str, RunEvent]]:
        """Every event of a run after stream id ``after``."""
        return [
            (entry_id, load_event(raw, run_id)) for entry_id, raw in self._read_raw(run_id, after)
        ]

    @translated
    def wait(
        self, submissions_after: str, cursors: Mapping[str, str], block_s: float, count: int = 1000
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, RunEvent]]]]:
        """Block up to ``block_s`` for new submissions and new events of the given runs.

        Args:
            submissions_after: stream id of the last submission seen.
            cursors: run id -> stream id of the last event seen.
            block_s: longest wait.
            count: most entries per stream.

        Returns:
            ([(stream id, run id) submitted], {run id: [(stream id, event), ...]}).
        """
        if self.on_cluster:
            fresh, raw = cluster_wait.wait(
                self._r, self.keys, submissions_after, cursors, block_s, count
            )
            return fresh, {
                run_id: [(i.decode(), _event(f, run_id)) for i, f in entries]
                for run_id, entries in raw.items()
            }
        streams = {self.keys.submissions(): submissions_after}
        streams.update({self.keys.events(run_id): last for run_id, last in cursors.items()})
        block = block_ms(block_s) if block_s > 0 else None  # 0: what is there now
        reply = self._r.xread(streams, count=count, block=block)
        submitted: list[tuple[str, str]] = []
        found: dict[str, list[tuple[str, RunEvent]]] = {}
        submissions_key = self.keys.submissions().encode()
        for stream, entries in reply or ():
            if stream == submissions_key:
                submitted = [(i.decode(), f[b"run"].decode()) for i, f in entries]
            else:
                run_id = run_of(stream.decode())
                found[run_id] = [(i.decode(), _event(f, run_id)) for i, f in entries]
        return submitted, found

    @translated
    def wait_run_end(self, run_id: str, after: str, block_s: float) -> tuple[str, bool]:
        """Block up to ``block_s`` until the run has ended: (cursor, whether it has).

        A waiter blocks on the run's ``ended`` stream, written once when the run ends, so
        it wakes once per run, not per event. (A run that ended before there were end
        signals is found ended by its record when the wait times out.)
        """
        reply = self._r.xread({self.keys.ended(run_id): "0-0"}, count=1, block=block_ms(block_s))
        if reply:
            return after, True
        raw = self._r.hget(self.keys.run(run_id), "record")
        ended = raw is not None and RunRecord.model_validate_json(raw).status in FINAL_RUN_STATUSES
        return after, ended

    @translated
    def wait_run(self, run_id: str, after: str, block_s: float) -> list[tuple[str, RunEvent]]:
        """Block up to ``block_s`` for events of one run after stream id ``after``."""
        ready = self._ready(run_id, after)
        if ready is not None:
            return [(entry_id, load_event(raw, run_id)) for entry_id, raw in ready]
        reply = self._r.xread(
            {self.keys.events(run_id): after}, count=1000, block=block_ms(block_s)
        )
        return [
            (i.decode(), _event(f, run_id)) for _stream, entries in reply or () for i, f in entries
        ]

    # Steps (coordinator side) ---------------------------------------------------------
    @translated
    def save_progress(
        self,
        run_id: str,
        statuses: Mapping[str, str],
        inputs: Mapping[str, StepInputs],
        events: Sequence[RunEvent],
    ) -> None:
        """Step statuses, input refs of dispatched steps and coordinator events, at once."""
        with self._r.pipeline(transaction=True) as pipe:
            if statuses:
                pipe.hset(self.keys.steps(run_id), mapping=dict(statuses))
            if inputs:
                pipe.hset(
                    self.keys.inputs(run_id),
                    mapping={key: value.model_dump_json() for key, value in inputs.items()},
                )
            for event in events:
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: dump_event(event, run_id)})
            pipe.execute()

    @translated
    def step_statuses(self, run_id: str) -> dict[str, str]:
        raw = self._r.hgetall(self.keys.steps(run_id))
        return {key.decode(): value.decode() for key, value in raw.items()}

    # Steps (coordinator side, watching workers) -------------------------------------------
    @translated
    def step_beats(self, run_id: str, step_keys: Sequence[str]) -> tuple[float, list[float | None]]:
        """Redis's clock now, and when each step's worker last sent a heartbeat."""
        if self.on_cluster:  # the clock of the run's node, in a script routed there
            (seconds, micros), beats = self._beats(
                keys=[self.keys.beats(run_id)], args=list(step_keys)
            )
            seconds, micros = int(seconds), int(micros)
        else:
            with self._r.pipeline(transaction=False) as pipe:
                pipe.time()
                pipe.hmget(self.keys.beats(run_id), list(step_keys))
                (seconds, micros), beats = pipe.execute()
        return seconds + micros / 1e6, [float(b) if b is not None else None for b in beats]

    @translated
    def declare_lost(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        events: Sequence[RunEvent],
        status: str | None = None,
        expect: Sequence[str] = ("running",),
    ) -> bool:
        """Take an attempt from its worker (whose reports are then refused), record why,
        and optionally end the step with ``status``; only while the step's stored status
        is one of ``expect`` (False, and nothing written, when it is not)."""
        keys = [
            self.keys.steps(run_id),
            self.keys.claims(run_id),
            self.keys.beats(run_id),
            self.keys.events(run_id),
        ]
        args: list[Any] = [step_key, claim_of(attempt, LOST), status or "", " ".join(expect)]
        args += [dump_event(event, run_id) for event in events]
        return bool(self._declare_lost(keys=keys, args=args))

    def _output_key(self, run_id: str, ref: ValueRef) -> str:
        return self.keys.output(run_id, ref.step_key, ref.output, ref.mapping_key)

    @translated
    def has_output(self, run_id: str, ref: ValueRef) -> bool:
        """Whether a value is stored (without fetching it)."""
        return bool(self._r.exists(self._output_key(run_id, ref)))

    @translated
    def load_outputs(self, run_id: str, refs: Sequence[ValueRef]) -> list[bytes | None]:
        if not refs:
            return []
        keys = [self.keys.output(run_id, r.step_key, r.output, r.mapping_key) for r in refs]
        values: list[bytes | None] = self._r.mget(keys)
        return values

    @translated
    def copy_outputs(self, from_run: str, to_run: str, refs: Sequence[ValueRef]) -> list[ValueRef]:
        """Copy stored values of one run to another (for a re-execution); returns the
        refs that were not there to copy (expired)."""
        values = self.load_outputs(from_run, refs)
        with self._r.pipeline(transaction=True) as pipe:
            for ref, data in zip(refs, values, strict=True):
                if data is not None:
                    pipe.set(self._output_key(to_run, ref), data, px=self.run_ttl_ms)
            pipe.execute()
        return [ref for ref, data in zip(refs, values, strict=True) if data is None]

    @translated
    def commit_step(
        self,
        run_id: str,
        outputs: Iterable[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: tuple[str, str] | None = None,
    ) -> None:
        """A step's outputs, its events and (step key, status) of how it ended, at once.

        The worker records the status it reports, so the coordinator persists only the
        statuses it decides itself.
        """
        with self._r.pipeline(transaction=True) as pipe:
            if status is not None:
                pipe.hset(self.keys.steps(run_id), status[0], status[1])
            for ref, data in outputs:
                key = self.keys.output(run_id, ref.step_key, ref.output, ref.mapping_key)
                pipe.set(key, data, px=self.run_ttl_ms)
            for event in events:
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: dump_event(event, run_id)})
            pipe.execute()
        if events:
            self._notify(run_id)

    # End of a run -------------------------------------------------------------------------
    @translated
    def finish_run(
        self,
        record: RunRecord,
        events: Sequence[RunEvent],
        statuses: Mapping[str, str],
        summary: RunSummary | None = None,
    ) -> None:
        """Final record, summary, events and step statuses; every key of the run starts
        to expire.

        The statuses are the run state's final word: a late, duplicate report that a
        worker wrote into the steps hash is overwritten here.
        """
        run_id = record.run_id
        fields = {"record": record.model_dump_json()}
        if summary is not None:
            fields["summary"] = summary.model_dump_json()
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.run(run_id), mapping=fields)
            if statuses:
                pipe.hset(self.keys.steps(run_id), mapping=dict(statuses))
            for event in events:
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: dump_event(event, run_id)})
            pipe.xadd(self.keys.ended(run_id), {b"status": record.status.value})
            pipe.delete(self.keys.beats(run_id))  # the steps' heartbeats go
            for key in self.keys.run_keys(run_id):
                pipe.pexpire(key, self.run_ttl_ms)
            pipe.execute()
        try:
            self._archive_events(run_id)
        except redis.RedisError:  # the run has ended all the same; its log stays as it was
            logger.warning("run %s: its events stay in their stream", run_id, exc_info=True)
        self._r.srem(self.keys.active(), run_id)


def _event(fields: Mapping[bytes, bytes], run_id: str) -> RunEvent:
    return load_event(fields[EVENT_FIELD], run_id)
