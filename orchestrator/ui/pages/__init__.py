"""The server-rendered pages: Jobs, Runs, Run, Launchpad, Cluster, the GraphQL
explorer, and the login page."""

from .cluster import cluster_page
from .explorer import explorer_page
from .jobs import job_page, jobs_page, launchpad_page
from .misc import login_page, logout
from .runs import run_page, runs_page

__all__ = [
    "cluster_page",
    "explorer_page",
    "job_page",
    "jobs_page",
    "launchpad_page",
    "login_page",
    "logout",
    "run_page",
    "runs_page",
]
