"""The orchestrator: everything between a job definition and the workers, by role.

Top to bottom (each layer imports only the ones below it; ``lint-imports`` checks):

- ``cli``: the ``opgrid`` command, a leaf;
- ``coordinator`` (the cluster's I/O loop) and ``client`` (what a user's process does);
- ``store``: the one place that talks to Redis;
- ``planning``: pure, job + run config -> plan -> state;
- ``protocol``, ``settings``, ``logs``, ``exports``: the words every process shares.
"""
