"""Compatibility home of Dagster's ``dagster.utils`` helpers that users import."""
