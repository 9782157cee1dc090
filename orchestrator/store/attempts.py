"""Step attempts in Redis: claimed, kept alive and committed by the worker running them.

``RedisAttempts`` is the part of ``RedisRunStore`` that workers use
(``base.Attempts``); the rule a claim follows is ``protocol.attempts.decide``, run
here as the ``BEGIN`` script, and a commit is refused once the claim is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Begun, Verdict, deaths_field, deaths_of
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import StepInputs

from . import cluster_wait
from .compact import dump_event
from .connect import translated
from .keys import Keys
from .scripts import BEGIN, DIED
from .sentinel import DurableWrites


class RedisAttempts:
    """Claims, heartbeats and commits of step attempts (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    run_ttl_ms: int
    _begin: Any
    _beat: Any
    _commit: Any
    durable: DurableWrites

    on_cluster: bool

    def _notify(self, run_id: str) -> None:
        """On a cluster, wake the coordinators after a write to ``run_id``'s events."""
        if self.on_cluster:
            cluster_wait.notify(self._r, self.keys, run_id)

    def _output_key(self, run_id: str, ref: ValueRef) -> str:
        return self.keys.output(run_id, ref.step_key, ref.output, ref.mapping_key)

    # Steps (worker side) --------------------------------------------------------------
    @translated
    def begin_attempt(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        token: str,
        start: RunEvent,
        lost_after_s: float,
        refs: Sequence[ValueRef] | None = None,
        take_over: str = "",
    ) -> Begun:
        """Claim an attempt and record its start, and read what the step needs: one trip.

        Args:
            start: the start event; a take-over writes ``attempts.lost_note`` of it first.
            refs: the stored values to read; None reads the step's input refs instead.
            take_over: a holder known to be dead, replaced even if it looks alive.
        """
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
            dump_event(start, run_id),
            "0" if refs is not None else "1",
            deaths_field(step_key),
        ]
        output_keys = [self._output_key(run_id, ref) for ref in refs or ()]
        try:
            replies = self._begin_trip(keys, args, output_keys)
        except redis.exceptions.NoScriptError:  # a restarted Redis: load the script once
            self._r.script_load(BEGIN)
            replies = self._begin_trip(keys, args, output_keys)
        self._notify(run_id)
        return _begun(replies[0], replies[1] if refs else [], attempt)

    def _begin_trip(self, keys: list[str], args: list[Any], output_keys: list[str]) -> Any:
        """EVALSHA of the claim script and the MGET of the values, in one round trip.

        (A script run through a redis-py pipeline costs a SCRIPT EXISTS round trip per
        execution; EVALSHA straight, with a reload on NOSCRIPT, does not.)
        """
        with self._r.pipeline(transaction=False) as pipe:
            pipe.execute_command("EVALSHA", self._begin.sha, len(keys), *keys, *args)
            if output_keys:
                pipe.execute_command("MGET", *output_keys)  # (a cluster pipeline has no mget)
            return pipe.execute()

    @translated
    def beat(self, run_id: str, step_key: str, claim: str) -> str | None:
        """Keep a running attempt alive; the step's status, or None if the claim was lost."""
        keys = [self.keys.claims(run_id), self.keys.beats(run_id), self.keys.steps(run_id)]
        status = self._beat(keys=keys, args=[step_key, claim])
        return status.decode() if status is not None else None

    @translated
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
        args += [dump_event(event, run_id) for event in events]
        args += [data for _, data in outputs]
        if not self.durable.wanted():
            committed = bool(self._commit(keys=keys, args=args))
            if committed:
                self._notify(run_id)
            return committed
        # on the commit's own connection: WAIT covers the writes made through it
        with self._r.pipeline(transaction=False) as pipe:
            self._commit(keys=keys, args=args, client=pipe)
            pipe.execute_command("WAIT", self.durable.replicas, self.durable.timeout_ms)
            committed, confirmed = pipe.execute()
        self.durable.settle(int(confirmed), f"the commit of step {step_key!r} of run {run_id}")
        if committed:
            self._notify(run_id)
        return bool(committed)

    @translated
    def record_death(
        self, run_id: str, step_key: str, attempt: int, how: str, event: RunEvent
    ) -> int:
        """Count a process death of ``attempt`` (``how``: "exitcode 3", "signal 11
        (SIGSEGV)") and log ``event``; the deaths so far, or 0 when the step has ended
        or moved on to a later attempt."""
        keys = [self.keys.steps(run_id), self.keys.claims(run_id), self.keys.events(run_id)]
        args = [step_key, deaths_field(step_key), attempt, how, dump_event(event, run_id)]
        deaths = int(self._r.register_script(DIED)(keys=keys, args=args))
        if deaths:
            self._notify(run_id)
        return deaths

    @translated
    def statuses_of(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        """The status of each (run id, step key), None where none is recorded: one trip
        (a worker's main process asks about every step its pool processes run)."""
        if not steps:
            return []
        with self._r.pipeline(transaction=False) as pipe:
            for run_id, step_key in steps:
                pipe.hget(self.keys.steps(run_id), step_key)
            replies = pipe.execute()
        return [reply.decode() if reply is not None else None for reply in replies]


def _begun(reply: list[Any], values: list[bytes | None], attempt: int) -> Begun:
    """The claim script's reply: verdict, holder and, when the delivery runs, the step's
    input refs (or nil) and the attempt's deaths record."""
    verdict, holder, *rest = reply
    inputs = rest[0] if rest else None
    deaths, died = deaths_of(rest[1].decode() if len(rest) > 1 else None, attempt)
    return Begun(
        Verdict(verdict.decode()),
        holder.decode(),
        StepInputs.model_validate_json(inputs) if inputs is not None else None,
        values,
        deaths,
        died,
    )
