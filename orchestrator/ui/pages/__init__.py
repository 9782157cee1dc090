"""The server-rendered pages: Jobs, Runs, Run, Launchpad, Cluster, Schedules, Sensors,
Backfills, captured output, the GraphQL explorer, and the login page."""

from .automation import (
    backfills_page,
    schedule_page,
    schedules_page,
    sensor_page,
    sensors_page,
)
from .captured import captured_page
from .cluster import cluster_page
from .explorer import explorer_page
from .jobs import job_page, jobs_page, launchpad_page
from .misc import login_page, logout
from .runs import run_page, runs_page

__all__ = [
    "backfills_page",
    "captured_page",
    "cluster_page",
    "explorer_page",
    "job_page",
    "jobs_page",
    "launchpad_page",
    "login_page",
    "logout",
    "run_page",
    "runs_page",
    "schedule_page",
    "schedules_page",
    "sensor_page",
    "sensors_page",
]
