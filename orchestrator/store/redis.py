"""Runs in Redis: records, plans, step statuses, input refs, events, outputs and leases.

Every Redis call of opgrid goes through ``RedisRunStore``; every key comes from
``keys.Keys``. ``redis.RedisError`` is translated to ``StorageError`` here and
nowhere else. Multi-key writes of one run are MULTI/EXEC transactions on keys
that share the run's hash slot.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import redis

from opgrid.errors import OutputNotFound, RunNotFound, StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import LOST, Begun, Verdict, claim_of
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepInputs
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES
from opgrid.orchestrator.settings import Settings

from .envelopes import IOManager
from .keys import Keys, queue_lists
from .scripts import BEAT, BEGIN, COMMIT, DECLARE_LOST, RELEASE, RENEW

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: How a run's final events appear in their JSON.
_FINAL_KINDS = tuple(
    f'"kind":"{kind.value}"'.encode() for kind in (E.RUN_SUCCESS, E.RUN_FAILURE, E.RUN_CANCELED)
)
#: The stream field that holds an event's JSON.
EVENT_FIELD = b"e"
#: Submissions kept in the submissions stream (approximate trim).
SUBMISSIONS_MAXLEN = 10_000


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Turn ``redis.RedisError`` into ``StorageError``, keeping the cause."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise StorageError(f"Redis failed during {method.__name__}: {exc}") from exc

    return wrapper


#: Socket timeout of every client; every blocking read asks for far less (see BLOCK_LIMIT_S).
SOCKET_TIMEOUT_S = 30.0
#: Longest single blocking read (XREAD BLOCK), well inside the socket timeout.
BLOCK_LIMIT_S = 5.0


def connect(url: str, **options: Any) -> redis.Redis:
    """A client for ``url`` (``redis://`` or ``rediss://``), bytes in and out.

    Raises:
        StorageError: ``url`` is not a Redis URL (the message shows it without password).
    """
    options.setdefault("socket_timeout", SOCKET_TIMEOUT_S)
    options.setdefault("socket_connect_timeout", 10.0)
    try:
        return redis.Redis.from_url(
            url, decode_responses=False, health_check_interval=30, **options
        )
    except ValueError as exc:
        raise StorageError(f"invalid Redis URL {safe_url(url)}: {exc}") from exc


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs.

    ``redis://:secret@host:6379/0`` -> ``redis://:***@host:6379/0``; the user name
    stays, and so does the rest (a ``password=`` query parameter is masked too). Works
    on URLs that do not parse, masking more rather than less.
    """
    masked = _URL_PASSWORD.sub(r"\g<head>***@", url)
    return _QUERY_PASSWORD.sub(r"\g<head>***", masked)


#: ``scheme://user:`` then the password up to the last ``@`` of the authority.
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:).*@(?=[^@]*$)")
#: ``?password=...`` or ``&password=...`` in a query.
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&#]*", re.IGNORECASE)


def _block_ms(block_s: float) -> int:
    return max(1, int(min(block_s, BLOCK_LIMIT_S) * 1000))


class RedisRunStore:
    """Runs of one namespace in one Redis."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisRunStore:
        """The run store of the cluster ``settings`` describe."""
        return cls(connect(settings.redis_url), Keys(settings.namespace), settings.run_ttl_s)

    def __init__(self, client: redis.Redis, keys: Keys, run_ttl_s: float) -> None:
        self.client = client
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

    # Runs ---------------------------------------------------------------------------
    @_translated
    def create_run(self, record: RunRecord, plan: ExecutionPlan) -> None:
        """Store a new run and announce it to coordinators."""
        run_id = record.run_id
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.run(run_id), mapping={"record": record.model_dump_json()})
            pipe.set(self.keys.plan(run_id), plan.model_dump_json())
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

    @_translated
    def get_run(self, run_id: str) -> RunRecord:
        raw = self._r.hget(self.keys.run(run_id), "record")
        if raw is None:
            raise RunNotFound(f"no run {run_id!r} in namespace {self.keys.namespace!r}")
        return RunRecord.model_validate_json(raw)

    @_translated
    def save_run(self, record: RunRecord) -> None:
        self._r.hset(self.keys.run(record.run_id), "record", record.model_dump_json())

    @_translated
    def get_plan(self, run_id: str) -> ExecutionPlan:
        raw = self._r.get(self.keys.plan(run_id))
        if raw is None:
            raise RunNotFound(f"no plan for run {run_id!r} in namespace {self.keys.namespace!r}")
        return ExecutionPlan.model_validate_json(raw)

    @_translated
    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest runs first."""
        ids = self._r.zrevrange(self.keys.runs_index(), 0, limit - 1)
        with self._r.pipeline(transaction=False) as pipe:
            for run_id in ids:
                pipe.hget(self.keys.run(run_id.decode()), "record")
            raws = pipe.execute()
        return [RunRecord.model_validate_json(raw) for raw in raws if raw is not None]

    @_translated
    def active_runs(self) -> list[str]:
        return sorted(member.decode() for member in self._r.smembers(self.keys.active()))

    # Events -------------------------------------------------------------------------
    @_translated
    def append_events(self, run_id: str, events: Sequence[RunEvent]) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            for event in events:
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: event.model_dump_json()})
            pipe.execute()

    @_translated
    def read_events(self, run_id: str, after: str = "0-0") -> list[tuple[str, RunEvent]]:
        """Every event of a run after stream id ``after``."""
        entries = self._r.xrange(self.keys.events(run_id), min=f"({after}", max="+")
        return [(entry_id.decode(), _event(fields)) for entry_id, fields in entries]

    @_translated
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
        streams = {self.keys.submissions(): submissions_after}
        streams.update({self.keys.events(run_id): last for run_id, last in cursors.items()})
        reply = self._r.xread(streams, count=count, block=_block_ms(block_s))
        submitted: list[tuple[str, str]] = []
        found: dict[str, list[tuple[str, RunEvent]]] = {}
        submissions_key = self.keys.submissions().encode()
        for stream, entries in reply or ():
            if stream == submissions_key:
                submitted = [(i.decode(), f[b"run"].decode()) for i, f in entries]
            else:
                run_id = _run_of(stream.decode())
                found[run_id] = [(i.decode(), _event(f)) for i, f in entries]
        return submitted, found

    @_translated
    def wait_run_end(self, run_id: str, after: str, block_s: float) -> tuple[str, bool]:
        """Block up to ``block_s`` for a run's final event: (new cursor, whether it came).

        Only the kind of each event is looked at, so a waiter costs the coordinator little.
        """
        reply = self._r.xread(
            {self.keys.events(run_id): after}, count=1000, block=_block_ms(block_s)
        )
        cursor, ended = after, False
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                ended = ended or any(kind in fields[EVENT_FIELD] for kind in _FINAL_KINDS)
        return cursor, ended

    @_translated
    def wait_run(self, run_id: str, after: str, block_s: float) -> list[tuple[str, RunEvent]]:
        """Block up to ``block_s`` for events of one run after stream id ``after``."""
        reply = self._r.xread(
            {self.keys.events(run_id): after}, count=1000, block=_block_ms(block_s)
        )
        return [(i.decode(), _event(f)) for _stream, entries in reply or () for i, f in entries]

    # Steps (coordinator side) ---------------------------------------------------------
    @_translated
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
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: event.model_dump_json()})
            pipe.execute()

    @_translated
    def step_statuses(self, run_id: str) -> dict[str, str]:
        raw = self._r.hgetall(self.keys.steps(run_id))
        return {key.decode(): value.decode() for key, value in raw.items()}

    # Steps (worker side) --------------------------------------------------------------
    @_translated
    def begin_attempt(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        token: str,
        events: tuple[RunEvent, RunEvent],
        lost_after_s: float,
        refs: Sequence[ValueRef] | None = None,
        take_over: str = "",
    ) -> Begun:
        """Claim an attempt and record its start, and read what the step needs: one trip.

        Args:
            events: the start event, and the event that reports a lost holder (written
                before the start only when one is taken over).
            refs: the stored values to read; None reads the step's input refs instead.
            take_over: a holder known to be dead, replaced even if it looks alive.
        """
        start, lost = events
        keys = [
            self.keys.steps(run_id),
            self.keys.claims(run_id),
            self.keys.beats(run_id),
            self.keys.events(run_id),
            self.keys.inputs(run_id),
        ]
        args: list[Any] = [
            step_key,
            attempt,
            token,
            lost_after_s,
            take_over,
            start.model_dump_json(),
            lost.model_dump_json(),
            "0" if refs is not None else "1",
        ]
        output_keys = [self._output_key(run_id, ref) for ref in refs or ()]
        try:
            replies = self._begin_trip(keys, args, output_keys)
        except redis.exceptions.NoScriptError:  # a restarted Redis: load the script once
            self._r.script_load(BEGIN)
            replies = self._begin_trip(keys, args, output_keys)
        verdict, holder, *rest = replies[0]
        inputs = rest[0] if rest else None
        return Begun(
            Verdict(verdict.decode()),
            holder.decode(),
            StepInputs.model_validate_json(inputs) if inputs is not None else None,
            replies[1] if refs else [],
        )

    def _begin_trip(self, keys: list[str], args: list[Any], output_keys: list[str]) -> Any:
        """EVALSHA of the claim script and the MGET of the values, in one round trip.

        (A script run through a redis-py pipeline costs a SCRIPT EXISTS round trip per
        execution; EVALSHA straight, with a reload on NOSCRIPT, does not.)
        """
        with self._r.pipeline(transaction=False) as pipe:
            pipe.execute_command("EVALSHA", self._begin.sha, len(keys), *keys, *args)
            if output_keys:
                pipe.mget(output_keys)
            return pipe.execute()

    @_translated
    def beat(self, run_id: str, step_key: str, claim: str) -> str | None:
        """Keep a running attempt alive; the step's status, or None if the claim was lost."""
        keys = [self.keys.claims(run_id), self.keys.beats(run_id), self.keys.steps(run_id)]
        status = self._beat(keys=keys, args=[step_key, claim])
        return status.decode() if status is not None else None

    @_translated
    def commit_attempt(
        self,
        run_id: str,
        claim: tuple[str, str],
        outputs: Sequence[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: str,
    ) -> bool:
        """An attempt's outputs, events and final status, if ``claim`` (step key, claim)
        still holds and the step is not final; False when the report was refused."""
        step_key, held = claim
        keys = [
            self.keys.steps(run_id),
            self.keys.claims(run_id),
            self.keys.beats(run_id),
            self.keys.events(run_id),
            *(self._output_key(run_id, ref) for ref, _ in outputs),
        ]
        args: list[Any] = [step_key, held, status, self.run_ttl_ms, len(events)]
        args += [event.model_dump_json() for event in events]
        args += [data for _, data in outputs]
        return bool(self._commit(keys=keys, args=args))

    # Steps (coordinator side, watching workers) -------------------------------------------
    @_translated
    def step_beats(self, run_id: str, step_keys: Sequence[str]) -> tuple[float, list[float | None]]:
        """Redis's clock now, and when each step's worker last sent a heartbeat."""
        with self._r.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hmget(self.keys.beats(run_id), list(step_keys))
            (seconds, micros), beats = pipe.execute()
        return seconds + micros / 1e6, [float(b) if b is not None else None for b in beats]

    @_translated
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
        args += [event.model_dump_json() for event in events]
        return bool(self._declare_lost(keys=keys, args=args))

    def _output_key(self, run_id: str, ref: ValueRef) -> str:
        return self.keys.output(run_id, ref.step_key, ref.output, ref.mapping_key)

    @_translated
    def has_output(self, run_id: str, ref: ValueRef) -> bool:
        """Whether a value is stored (without fetching it)."""
        return bool(self._r.exists(self._output_key(run_id, ref)))

    @_translated
    def load_outputs(self, run_id: str, refs: Sequence[ValueRef]) -> list[bytes | None]:
        if not refs:
            return []
        keys = [self.keys.output(run_id, r.step_key, r.output, r.mapping_key) for r in refs]
        values: list[bytes | None] = self._r.mget(keys)
        return values

    @_translated
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

    @_translated
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
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: event.model_dump_json()})
            pipe.execute()

    # End of a run -------------------------------------------------------------------------
    @_translated
    def finish_run(
        self, record: RunRecord, events: Sequence[RunEvent], statuses: Mapping[str, str]
    ) -> None:
        """Final record, events and step statuses; every key of the run starts to expire.

        The statuses are the run state's final word: a late, duplicate report that a
        worker wrote into the steps hash is overwritten here.
        """
        run_id = record.run_id
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.run(run_id), "record", record.model_dump_json())
            if statuses:
                pipe.hset(self.keys.steps(run_id), mapping=dict(statuses))
            for event in events:
                pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: event.model_dump_json()})
            for key in self.keys.run_keys(run_id):
                pipe.pexpire(key, self.run_ttl_ms)
            pipe.execute()
        self._r.srem(self.keys.active(), run_id)

    # Leases ---------------------------------------------------------------------------------
    @_translated
    def claim(self, run_id: str, owner: str, lease_s: float) -> bool:
        return bool(self._r.set(self.keys.lease(run_id), owner, nx=True, px=int(lease_s * 1000)))

    @_translated
    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        return bool(self._renew(keys=[self.keys.lease(run_id)], args=[owner, int(lease_s * 1000)]))

    @_translated
    def release(self, run_id: str, owner: str) -> None:
        self._release(keys=[self.keys.lease(run_id)], args=[owner])

    @_translated
    def heartbeat(self, coordinator_id: str, ttl_s: float) -> None:
        """Alive until ``ttl_s`` from now (scored by expiry time)."""
        self._r.zadd(self.keys.coordinators(), {coordinator_id: time.time() + ttl_s})

    @_translated
    def forget_coordinator(self, coordinator_id: str) -> None:
        self._r.zrem(self.keys.coordinators(), coordinator_id)

    @_translated
    def live_coordinators(self) -> list[str]:
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.keys.coordinators(), "-inf", now)
            pipe.zrangebyscore(self.keys.coordinators(), now, "+inf")
            _, alive = pipe.execute()
        return sorted(member.decode() for member in alive)

    # Workers and queues (read by the coordinator's metrics) ----------------------------------
    @_translated
    def worker_heartbeat(self, hostname: str, queues: Sequence[str], ttl_s: float) -> None:
        """A Celery worker, consuming ``queues``, is alive until ``ttl_s`` from now."""
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.workers(), {hostname: time.time() + ttl_s})
            pipe.hset(self.keys.worker_queues(), hostname, ",".join(queues))
            pipe.execute()

    @_translated
    def forget_worker(self, hostname: str) -> None:
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrem(self.keys.workers(), hostname)
            pipe.hdel(self.keys.worker_queues(), hostname)
            pipe.execute()

    @_translated
    def live_workers(self) -> dict[str, list[str]]:
        """Hostname -> queues of each worker whose announcement has not lapsed.

        Lapsed entries are dropped on the way (the queues of a worker that announced
        itself again in that very moment are missing until its next announcement).
        """
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(self.keys.workers(), "-inf", now)
            pipe.zremrangebyscore(self.keys.workers(), "-inf", now)
            pipe.zrangebyscore(self.keys.workers(), now, "+inf")
            pipe.hgetall(self.keys.worker_queues())
            lapsed, _, alive, queues = pipe.execute()
        if lapsed:
            self._r.hdel(self.keys.worker_queues(), *lapsed)
        return {
            member.decode(): [q for q in queues.get(member, b"").decode().split(",") if q]
            for member in sorted(alive)
        }

    @_translated
    def queue_depths(
        self, queues: Iterable[str], broker: redis.Redis | None = None
    ) -> dict[str, int]:
        """Messages waiting in each Celery queue, read from the broker's lists (``LLEN``).

        Args:
            queues: queue names.
            broker: a client of the broker when it is not this store's Redis.
        """
        lists = {name: queue_lists(name) for name in sorted(set(queues))}
        client: Any = broker if broker is not None else self._r
        with client.pipeline(transaction=False) as pipe:
            for keys in lists.values():
                for key in keys:
                    pipe.llen(key)
            lengths = iter(pipe.execute())
        return {name: sum(next(lengths) for _ in keys) for name, keys in lists.items()}

    # Pruning ----------------------------------------------------------------------------------
    @_translated
    def prune_runs(self, finished_before: float, dry_run: bool = False) -> list[str]:
        """Delete the runs that ended before ``finished_before`` (epoch seconds).

        A run is pruned when it is not active and its record says it ended (success,
        failure or canceled) before the cutoff (its creation time if it has no end
        time); an index entry whose record has already expired goes too. Every key of
        such a run (outputs included, found with one ``SCAN`` of the namespace's run
        keys) is deleted, then its entry in the runs index. Active runs are never touched.

        Returns:
            The ids of the runs pruned (or, with ``dry_run``, that would be), oldest first.
        """
        candidates = [
            member.decode()
            for member in self._r.zrangebyscore(
                self.keys.runs_index(), "-inf", f"({finished_before!r}"
            )
        ]
        active = {member.decode() for member in self._r.smembers(self.keys.active())}
        doomed: list[str] = []
        for start in range(0, len(candidates), _PRUNE_BATCH):
            batch = candidates[start : start + _PRUNE_BATCH]
            with self._r.pipeline(transaction=False) as pipe:
                for run_id in batch:
                    pipe.hget(self.keys.run(run_id), "record")
                raws = pipe.execute()
            doomed += [
                run_id
                for run_id, raw in zip(batch, raws, strict=True)
                if run_id not in active and _ended_before(run_id, raw, finished_before)
            ]
        if doomed and not dry_run:
            self._delete_runs(doomed)
        return doomed

    def _delete_runs(self, run_ids: Sequence[str]) -> None:
        """Every key of these runs (one pass over the run keys), then their index entries."""
        doomed = set(run_ids)
        pending: list[bytes] = []
        for key in self._r.scan_iter(match=self.keys.run_pattern(), count=_PRUNE_BATCH):
            if _run_of(key.decode(errors="replace")) in doomed:
                pending.append(key)
            if len(pending) >= _PRUNE_BATCH:
                self._unlink(pending)
                pending = []
        self._unlink(pending)
        for start in range(0, len(run_ids), _PRUNE_BATCH):
            self._r.zrem(self.keys.runs_index(), *run_ids[start : start + _PRUNE_BATCH])

    def _unlink(self, keys: Sequence[bytes]) -> None:
        with self._r.pipeline(transaction=False) as pipe:  # one key per command: cluster-safe
            for key in keys:
                pipe.unlink(key)
            pipe.execute()


#: Runs read, or keys deleted, per round trip while pruning.
_PRUNE_BATCH = 500


def _ended_before(run_id: str, raw: bytes | None, cutoff: float) -> bool:
    """Whether the stored record ``raw`` is of a run that ended before ``cutoff``; a
    record that has expired counts as ended, one that cannot be read as not."""
    if raw is None:
        return True
    try:
        record = RunRecord.model_validate_json(raw)
    except ValueError:
        logger.warning("run %s: unreadable record, not pruned", run_id, exc_info=True)
        return False
    ended = record.finished_at if record.finished_at is not None else record.created_at
    return record.status in FINAL_RUN_STATUSES and ended < cutoff


class RedisOutputStore:
    """The ``OutputStore`` of a cluster: values signed by the IO manager, in Redis."""

    def __init__(self, store: RedisRunStore, io: IOManager) -> None:
        self._store = store
        self._io = io

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        data = self._io.dumps(value, where=_where(ref))
        self._store.commit_step(run_id, [(ref, data)], [])

    def get(self, run_id: str, ref: ValueRef) -> Any:
        (data,) = self._store.load_outputs(run_id, [ref])
        if data is None:
            raise OutputNotFound(f"run {run_id}: {_where(ref)} is not in storage (expired?)")
        return self._io.loads(data, where=_where(ref))

    def has(self, run_id: str, ref: ValueRef) -> bool:
        return self._store.has_output(run_id, ref)


def _where(ref: ValueRef) -> str:
    key = f"[{ref.mapping_key}]" if ref.mapping_key is not None else ""
    return f'output "{ref.output}" of step "{ref.step_key}{key}"'


def _event(fields: Mapping[bytes, bytes]) -> RunEvent:
    return RunEvent.model_validate_json(fields[EVENT_FIELD])


def _run_of(stream_key: str) -> str:
    return stream_key[stream_key.index("{") + 1 : stream_key.index("}")]
