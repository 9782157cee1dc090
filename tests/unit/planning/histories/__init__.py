"""Recorded run histories (``*.jsonl``, ``*.plan.json``, ``*.outcome.json``); see ``record.py``."""
