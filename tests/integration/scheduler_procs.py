"""Real processes for the scheduler's tests: ``opgrid worker`` serving the schedules' code
location, ``opgrid coordinator`` (each with its scheduler thread), ``opgrid`` commands."""

from __future__ import annotations

import subprocess

from opgrid.orchestrator.store.redis import RedisRunStore
from tests.processes import OPGRID, ROOT
from tests.reliability.procs import Proc, Processes, wait_for

#: The code location, relative to ROOT (workers and the CLI name it alike).
JOBS = "tests/integration/jobs_for_schedules.py"


class SchedulerProcesses(Processes):
    """Workers of ``JOBS`` and coordinators, for one test; ``stop_all`` ends them."""

    def schedules_worker(self, name: str, concurrency: int = 2) -> Proc:
        argv = [OPGRID, "worker", "-f", JOBS, "--pool", "prefork", "-c", str(concurrency)]
        argv += ["-n", f"{name}@%h", "--", "--without-gossip", "--without-mingle"]
        proc = self._start(name, argv)
        wait_for(lambda: "ready." in proc.text() or not proc.alive(), 30, proc.text)
        assert proc.alive(), proc.text()
        return proc

    def opgrid(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPGRID, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def lines(self, prefix: str) -> list[str]:
        """The marks that start with ``prefix``, without it."""
        return [
            line.removeprefix(prefix)
            for line in self.marks.read_text().splitlines()
            if line.startswith(prefix)
        ]


def leader_proc(store: RedisRunStore, coordinators: list[Proc], timeout_s: float = 20) -> Proc:
    """The coordinator process whose scheduler leads."""
    by_name = {proc.name: proc for proc in coordinators}
    found: list[Proc] = []

    def leads() -> bool:
        leader = store.scheduler_leader()
        if leader in by_name and by_name[leader].alive():
            found.append(by_name[leader])
        return bool(found)

    wait_for(leads, timeout_s, lambda: "\n".join(p.text() for p in coordinators))
    return found[0]
