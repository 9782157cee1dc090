"""The tests' harness: ``processes`` for real subprocesses, ``cluster`` for a cluster in-process."""
