"""Celery workers that run steps of distributed runs (see the distributed-execution issue)."""
