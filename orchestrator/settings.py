"""Settings of a cluster, read from ``OPGRID_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Seven days: how long a finished run's keys stay readable.
DEFAULT_RUN_TTL_S = 7 * 24 * 3600.0


class Settings(BaseSettings):
    """Everything a coordinator, a worker or a submitting client needs to agree on."""

    model_config = SettingsConfigDict(env_prefix="OPGRID_", frozen=True, extra="ignore")

    #: may hold a password: kept out of repr (and every log line goes through ``safe_url``)
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)
    #: the Celery broker; defaults to ``redis_url``
    broker_url: str = Field(default="", repr=False)
    #: prefix of every Redis key, so clusters (and tests) can share one Redis
    namespace: str = "opgrid"
    #: HMAC key that signs stored outputs; every process of a cluster must share it
    secret: SecretStr = SecretStr("opgrid-dev-secret-change-me")
    #: the Celery queue of steps without an ``opgrid/queue`` tag
    default_queue: str = "opgrid"
    #: how long a finished run's keys live
    run_ttl_s: float = Field(default=DEFAULT_RUN_TTL_S, gt=0)
    #: outputs larger than this (bytes, serialized) are refused with a clear error
    max_output_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    #: a directory every worker shares: outputs are written there (signed) instead of
    #: into Redis, which then holds only a signed reference; for large outputs
    output_dir: str = ""
    #: a coordinator's hold on a run lapses this long after its last renewal
    lease_s: float = Field(default=15.0, gt=0)
    #: longest a coordinator blocks on its streams before housekeeping
    block_s: float = Field(default=1.0, gt=0)
    #: code locations a worker serves: files or modules, comma-separated
    locations: str = ""
    #: how often a worker running a step tells Redis it is alive (and looks for a cancel)
    step_heartbeat_s: float = Field(default=2.0, gt=0)
    #: a running step whose worker sent no heartbeat for this long is declared lost
    step_lost_after_s: float = Field(default=20.0, gt=0)
    #: a lost step attempt is delivered again at most this many times, then fails
    max_redeliveries: int = Field(default=2, ge=0)
    #: a step that no worker started this long after it was queued fails; 0: no limit
    queue_timeout_s: float = Field(default=0.0, ge=0)
    #: a step waiting on a queue that has had no live consumer (worker registry) this
    #: long fails, naming the queue; a busy queue with live consumers waits; 0: no limit
    no_consumer_timeout_s: float = Field(default=600.0, ge=0)
    #: a canceled (or timed-out) step gets this long to stop before its process is killed
    cancel_grace_s: float = Field(default=10.0, ge=0)
    #: the broker hands an unacknowledged step message to another worker after this long
    visibility_timeout_s: float = Field(default=3600.0, gt=0)
    #: publish a task-sent event per step, so Flower lists steps while they are queued
    #: (one more Redis publish per step; without it Flower lists a step once a worker
    #: receives it)
    sent_events: bool = False
    #: replicas that must confirm a step's commit before its worker acknowledges the
    #: message (Redis ``WAIT``); -1: one under Sentinel (``redis+sentinel://``), else none
    redis_wait_replicas: int = Field(default=-1, ge=-1)
    #: the longest a commit waits for them; then it goes on, logging a warning
    redis_wait_timeout_s: float = Field(default=1.0, gt=0)
    #: how long a worker keeps retrying Redis while it is unreachable before giving up
    redis_retry_s: float = Field(default=60.0, ge=0)
    #: the port on which ``opgrid coordinator`` serves ``/metrics`` (Prometheus) and
    #: ``/healthz``; 0: not served
    metrics_port: int = Field(default=0, ge=0, le=65535)
    #: the address it serves them on: loopback by default; ``0.0.0.0`` for a scraper
    #: elsewhere (a container, another host)
    metrics_host: str = "127.0.0.1"
    #: a running step's ``context.log`` lines reach the run's log in batches, at most
    #: this often (a step that logs nothing writes nothing)
    log_flush_s: float = Field(default=0.5, gt=0)
    #: a ``context.log`` line longer than this (bytes) is cut, saying so
    log_line_max_bytes: int = Field(default=16 * 1024, gt=0)
    #: the most ``context.log`` lines one step attempt logs; beyond it lines are counted
    #: and one line says how many were dropped
    step_log_max_lines: int = Field(default=10_000, gt=0)
    #: the most bytes of ``context.log`` lines one step attempt logs (as above)
    step_log_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    #: what an op prints on stdout, and on stderr, is kept up to this many bytes per step
    #: attempt (the head; the text says how much was cut)
    capture_limit_bytes: int = Field(default=1024 * 1024, ge=0)
    #: how services write their log lines: ``text``, or ``json`` (one object per line)
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _default_broker(self) -> Settings:
        scheme = self.redis_url.split("://", 1)[0].lower()
        if not self.broker_url and scheme.endswith("+cluster"):
            raise ValueError(
                "OPGRID_REDIS_URL names a Redis Cluster, which cannot be Celery's broker: "
                "set OPGRID_BROKER_URL to a single Redis, a Sentinel group or RabbitMQ"
            )
        if scheme.endswith("+cluster") and self.redis_wait_replicas > 0:
            raise ValueError(
                "OPGRID_REDIS_WAIT_REPLICAS applies to a single Redis or a Sentinel group, "
                "not to a Redis Cluster (set it to -1 or 0)"
            )
        if not self.broker_url:
            object.__setattr__(self, "broker_url", self.redis_url)
        if self.step_lost_after_s < 2 * self.step_heartbeat_s:
            raise ValueError(
                f"step_lost_after_s ({self.step_lost_after_s}) must be at least twice "
                f"step_heartbeat_s ({self.step_heartbeat_s}), or live steps look lost"
            )
        return self

    def wait_replicas(self) -> int:
        """How many replicas confirm each commit (``redis_wait_replicas``, resolved)."""
        if self.redis_wait_replicas >= 0:
            return self.redis_wait_replicas
        return 1 if self.redis_url.lower().split("://", 1)[0].endswith("+sentinel") else 0

    def location_list(self) -> list[str]:
        """The configured code locations, in order."""
        return [item.strip() for item in self.locations.split(",") if item.strip()]
