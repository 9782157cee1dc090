"""Every Redis key opgrid uses, and the one place that builds them.

The braces are a Redis Cluster hash tag: all keys of one run live in one slot,
so a run's multi-key transactions work on a cluster too.

Per run (``<ns>:{<run>}:...``; all expire ``run_ttl_s`` after the run ends):

- ``run``     HASH     field ``record``: the RunRecord JSON; written by the submitter, then
                       the coordinator; field ``summary``: the RunSummary JSON, written by
                       the coordinator when the run ends
- ``plan``    STRING   the ExecutionPlan JSON; written once by the submitter
- ``steps``   HASH     step key -> status; written by the coordinator
- ``inputs``  HASH     step key -> StepInputs JSON; written by the coordinator at dispatch,
                       read by the worker that runs the step
- ``events``  STREAM   RunEvent JSON in field ``e`` (``compact`` form); appended by workers
                       (``context.log`` lines while a step runs, under its claim), the
                       coordinator and (cancel requests) submitters; emptied into ``log``
                       when the run ends
- ``log``     STRING   zlib of ``<stream id> TAB <event>`` lines: the entries of ``events``
                       when the run ended; written once by the coordinator (``archive``)
- ``out:<step>:<output>[:<mapping key>]``  STRING  a signed output; written by workers
- ``lease``   STRING   the id of the coordinator that owns the run; ``lease_s``, renewed
- ``claims``  HASH     step key -> "<attempt>:<worker token>": who runs the attempt;
                       written by the worker that starts it ("lost" when the
                       coordinator gave up on that worker)
- ``beats``   HASH     step key -> Redis time of its attempt's last heartbeat (kept after
                       the step ends; deleted when the run ends)
- ``captured`` HASH    "<attempt>:<step key>" -> CapturedOutput JSON: what the attempt printed on
                       stdout and stderr; written by the worker that ran it, under its
                       claim, with the run's TTL
- ``ended``   STREAM   one entry (field ``status``) when the run ends, written with its final
                       record by the coordinator: waiters block on it, woken once per run

Cluster-wide:

- ``<ns>:runs``               ZSET    run ids by creation time; written by the submitter
- ``<ns>:active``             SET     unfinished run ids; removed by the coordinator at the end
- ``<ns>:submissions``        STREAM  run ids for coordinators to claim (trimmed to ~10,000)
- ``{<ns>:submissions}:wake``  STREAM  on a Redis Cluster only: run ids whose events stream
                                      grew (field ``run``), appended after each worker's (or
                                      submitter's) event write; coordinators block on it with
                                      the submissions, whose slot its hash tag shares (trimmed
                                      to ~10,000)
- ``<ns>:coordinators``        ZSET    coordinator ids scored by when their heartbeat lapses
- ``<ns>:workers``             ZSET    Celery worker hostnames scored by when their announcement
                                      lapses; written by each worker's main process
- ``<ns>:worker_queues``       HASH    worker hostname -> the queues it consumes, comma-separated
- ``<ns>:worker_info``         HASH    worker hostname -> WorkerInfo JSON (host, pid, pool size,
                                      the steps its pool runs), rewritten with each announcement
- ``<ns>:queues``              SET     every queue steps were sent to; added to by the
                                      coordinators' metrics, so a restarted one still reports
                                      each queue's depth

Schedules, sensors and backfills (``ticks.RedisTicks``; ``<origin>`` is
``<schedule|sensor>:<name>``, one hash slot per schedule or sensor, one per backfill):

- ``<ns>:instigators``          HASH    origin -> InstigatorDef JSON (what a worker's code
                                      locations define); written by each worker at start
- ``<ns>:scheduler``            STRING  the id of the coordinator leading the schedulers;
                                      ``lease_s``, renewed by the leader
- ``<ns>:{instigator:<origin>}:state``       STRING  InstigatorState JSON (on/off, cursor,
  last run key, last tick, the tick in flight); written by the leader, the worker that
  evaluates a tick and the CLI (start, stop, cursor); never expires
- ``<ns>:{instigator:<origin>}:ticks``       HASH    tick id -> TickRecord JSON; written by
  the leader (started, launched) and the evaluating worker (result); the newest
  ``TICKS_KEPT`` are kept
- ``<ns>:{instigator:<origin>}:tick_times``  ZSET    tick ids by tick time
- ``<ns>:{instigator:<origin>}:run_keys``    SET     run keys a sensor launched; written
  with the tick result that launches them
- ``<ns>:backfills``            ZSET    backfill ids by creation time; written by the CLI
- ``<ns>:{backfill:<id>}:backfill``  STRING  BackfillRecord JSON; written by the CLI, then
  the leader (status) and the CLI (cancel)
- ``<ns>:{backfill:<id>}:plans``     HASH    partition -> ExecutionPlan JSON; written once
  by the CLI, deleted when the backfill is over
- ``<ns>:{backfill:<id>}:launched``  HASH    partition -> run id; written by the leader
- ``<ns>:{backfill:<id>}:finished``  HASH    partition -> final run status; written by the
  leader
- ``<ns>:worker_secrets``      HASH    worker hostname -> the fingerprint of its OPGRID_SECRET
                                      (``registry.secret_fingerprint``); read by ``submit``

Celery's, on the broker (kombu's Redis transport; not under the namespace):

- ``<queue>``, ``<queue>\\x06\\x16<3|6|9>``  LIST  a queue's waiting messages, one list per
  priority step; read (LLEN) for the coordinator's metrics, see ``queue_lists``

``opgrid:runs`` and ``opgrid:active`` are the cross-slot indexes; they are never
part of a multi-key transaction with a run's own keys.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The field of an events stream entry that holds the event's JSON.
EVENT_FIELD = b"e"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builders for one namespace (``OPGRID_NAMESPACE``)."""

    namespace: str = "opgrid"

    def _run(self, run_id: str, suffix: str) -> str:
        return f"{self.namespace}:{{{run_id}}}:{suffix}"

    def run(self, run_id: str) -> str:
        return self._run(run_id, "run")

    def plan(self, run_id: str) -> str:
        return self._run(run_id, "plan")

    def steps(self, run_id: str) -> str:
        return self._run(run_id, "steps")

    def inputs(self, run_id: str) -> str:
        return self._run(run_id, "inputs")

    def events(self, run_id: str) -> str:
        return self._run(run_id, "events")

    def ended(self, run_id: str) -> str:
        return self._run(run_id, "ended")

    def archive(self, run_id: str) -> str:
        return self._run(run_id, "log")

    def lease(self, run_id: str) -> str:
        return self._run(run_id, "lease")

    def claims(self, run_id: str) -> str:
        return self._run(run_id, "claims")

    def beats(self, run_id: str) -> str:
        return self._run(run_id, "beats")

    def captured(self, run_id: str) -> str:
        return self._run(run_id, "captured")

    def output(self, run_id: str, step_key: str, output: str, mapping_key: str | None) -> str:
        suffix = f"out:{step_key}:{output}"
        return self._run(run_id, f"{suffix}:{mapping_key}" if mapping_key is not None else suffix)

    def run_keys(self, run_id: str) -> list[str]:
        """The fixed keys of a run (outputs come on top)."""
        return [
            self.run(run_id),
            self.plan(run_id),
            self.steps(run_id),
            self.inputs(run_id),
            self.events(run_id),
            self.archive(run_id),
            self.claims(run_id),
            self.beats(run_id),
            self.ended(run_id),
            self.captured(run_id),
        ]

    def run_pattern(self, run_id: str | None = None) -> str:
        """A ``SCAN MATCH`` pattern for every key of one run (fixed keys and outputs), or
        of every run of the namespace when ``run_id`` is None.

        Glob characters in the names are escaped, so the pattern matches that run only.
        """
        run = "*" if run_id is None else glob_escaped(run_id)
        return f"{glob_escaped(self.namespace)}:{{{run}}}:*"

    def runs_index(self) -> str:
        return f"{self.namespace}:runs"

    def active(self) -> str:
        return f"{self.namespace}:active"

    def submissions(self) -> str:
        return f"{self.namespace}:submissions"

    def wake(self) -> str:
        """In the submissions stream's slot (the hash tag is that key's whole name)."""
        return f"{{{self.submissions()}}}:wake"

    def coordinators(self) -> str:
        return f"{self.namespace}:coordinators"

    def workers(self) -> str:
        return f"{self.namespace}:workers"

    def worker_queues(self) -> str:
        return f"{self.namespace}:worker_queues"

    def worker_info(self) -> str:
        return f"{self.namespace}:worker_info"

    def queues(self) -> str:
        return f"{self.namespace}:queues"

    # Schedules, sensors and backfills ------------------------------------------------------
    def instigators(self) -> str:
        return f"{self.namespace}:instigators"

    def scheduler_lease(self) -> str:
        return f"{self.namespace}:scheduler"

    def _instigator(self, origin: str, suffix: str) -> str:
        return f"{self.namespace}:{{instigator:{origin}}}:{suffix}"

    def instigator_state(self, origin: str) -> str:
        return self._instigator(origin, "state")

    def ticks(self, origin: str) -> str:
        return self._instigator(origin, "ticks")

    def tick_times(self, origin: str) -> str:
        return self._instigator(origin, "tick_times")

    def sensor_run_keys(self, origin: str) -> str:
        return self._instigator(origin, "run_keys")

    def backfills(self) -> str:
        return f"{self.namespace}:backfills"

    def _backfill(self, backfill_id: str, suffix: str) -> str:
        return f"{self.namespace}:{{backfill:{backfill_id}}}:{suffix}"

    def backfill(self, backfill_id: str) -> str:
        return self._backfill(backfill_id, "backfill")

    def backfill_plans(self, backfill_id: str) -> str:
        return self._backfill(backfill_id, "plans")

    def backfill_launched(self, backfill_id: str) -> str:
        return self._backfill(backfill_id, "launched")

    def backfill_finished(self, backfill_id: str) -> str:
        return self._backfill(backfill_id, "finished")

    def worker_secrets(self) -> str:
        return f"{self.namespace}:worker_secrets"


#: Characters that ``SCAN MATCH`` (Redis glob) gives a meaning.
_GLOB_CHARS = frozenset("*?[]\\")


def glob_escaped(text: str) -> str:
    """``text`` as a Redis glob that matches exactly it."""
    return "".join(f"\\{char}" if char in _GLOB_CHARS else char for char in text)


#: kombu's Redis transport: a queue's priority steps, and what joins a queue's name to one.
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
_KOMBU_PRIORITY_SEP = "\x06\x16"


#: kombu's Redis transport: delivered, unacknowledged messages (delivery tag ->
#: ``[message, exchange, routing key]`` JSON), one hash for the broker's database.
UNACKED = "unacked"
#: kombu's Redis transport: the same delivery tags scored by delivery time.
UNACKED_INDEX = "unacked_index"


def queue_lists(queue: str) -> list[str]:
    """The broker's Redis lists that hold a Celery queue's waiting messages.

    kombu keeps one list per priority step: the queue's own name for step 0, then
    ``<queue>\\x06\\x16<step>`` (``kombu.transport.redis.Channel._q_for_pri``).
    """
    return [
        f"{queue}{_KOMBU_PRIORITY_SEP}{step}" if step else queue for step in _KOMBU_PRIORITY_STEPS
    ]


def queue_list_for(queue: str, priority: int) -> str:
    """The list of ``queue_lists(queue)`` a message of ``priority`` waits in (kombu files
    it under the highest priority step not above it)."""
    step = max(s for s in _KOMBU_PRIORITY_STEPS if s <= max(priority, 0))
    return f"{queue}{_KOMBU_PRIORITY_SEP}{step}" if step else queue


def run_of(key: str) -> str:
    """The run id of one of a run's keys (the text inside its hash tag)."""
    return key[key.index("{") + 1 : key.index("}")]
