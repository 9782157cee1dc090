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
- ``events``  STREAM   RunEvent JSON in field ``e``; appended by workers, the coordinator
                       and (cancel requests) submitters
- ``out:<step>:<output>[:<mapping key>]``  STRING  a signed output; written by workers
- ``lease``   STRING   the id of the coordinator that owns the run; ``lease_s``, renewed
- ``claims``  HASH     step key -> "<attempt>:<worker token>": who runs the attempt;
                       written by the worker that starts it ("lost" when the
                       coordinator gave up on that worker)
- ``beats``   HASH     step key -> Redis time of the running attempt's last heartbeat

Cluster-wide:

- ``<ns>:runs``               ZSET    run ids by creation time; written by the submitter
- ``<ns>:active``             SET     unfinished run ids; removed by the coordinator at the end
- ``<ns>:submissions``        STREAM  run ids for coordinators to claim (trimmed to ~10,000)
- ``<ns>:coordinators``        ZSET    coordinator ids scored by when their heartbeat lapses
- ``<ns>:workers``             ZSET    Celery worker hostnames scored by when their announcement
                                      lapses; written by each worker's main process
- ``<ns>:worker_queues``       HASH    worker hostname -> the queues it consumes, comma-separated
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

    def lease(self, run_id: str) -> str:
        return self._run(run_id, "lease")

    def claims(self, run_id: str) -> str:
        return self._run(run_id, "claims")

    def beats(self, run_id: str) -> str:
        return self._run(run_id, "beats")

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
            self.claims(run_id),
            self.beats(run_id),
        ]

    def run_pattern(self, run_id: str | None = None) -> str:
        """A ``SCAN MATCH`` pattern for every key of one run (fixed keys and outputs), or
        of every run of the namespace when ``run_id`` is None.

        Glob characters in the names are escaped, so the pattern matches that run only.
        """
        run = "*" if run_id is None else _glob_escaped(run_id)
        return f"{_glob_escaped(self.namespace)}:{{{run}}}:*"

    def runs_index(self) -> str:
        return f"{self.namespace}:runs"

    def active(self) -> str:
        return f"{self.namespace}:active"

    def submissions(self) -> str:
        return f"{self.namespace}:submissions"

    def coordinators(self) -> str:
        return f"{self.namespace}:coordinators"

    def workers(self) -> str:
        return f"{self.namespace}:workers"

    def worker_queues(self) -> str:
        return f"{self.namespace}:worker_queues"

    def worker_secrets(self) -> str:
        return f"{self.namespace}:worker_secrets"


#: Characters that ``SCAN MATCH`` (Redis glob) gives a meaning.
_GLOB_CHARS = frozenset("*?[]\\")


def _glob_escaped(text: str) -> str:
    """``text`` as a Redis glob that matches exactly it."""
    return "".join(f"\\{char}" if char in _GLOB_CHARS else char for char in text)


#: kombu's Redis transport: a queue's priority steps, and what joins a queue's name to one.
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
_KOMBU_PRIORITY_SEP = "\x06\x16"


def queue_lists(queue: str) -> list[str]:
    """The broker's Redis lists that hold a Celery queue's waiting messages.

    kombu keeps one list per priority step: the queue's own name for step 0, then
    ``<queue>\\x06\\x16<step>`` (``kombu.transport.redis.Channel._q_for_pri``).
    """
    return [
        f"{queue}{_KOMBU_PRIORITY_SEP}{step}" if step else queue for step in _KOMBU_PRIORITY_STEPS
    ]


def run_of(key: str) -> str:
    """The run id of one of a run's keys (the text inside its hash tag)."""
    return key[key.index("{") + 1 : key.index("}")]
