"""Prometheus metrics for the bot and the workers (torch-free), and JSON logs that carry job ids.

Each process builds its own registry in its entry point and serves it on its own port:
bot `MOTIONBOT_METRICS_PORT` (9100), worker `--metrics-port` (9101 + GPU index by default; 0 = off).
"""

from __future__ import annotations

import json
import logging
import sys

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["BotMetrics", "JsonFormatter", "WorkerMetrics", "configure_logging", "serve"]

_SECONDS = (1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600, 1200)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "motionbot_worker_jobs", "Jobs finished by this worker", ["model", "outcome"], registry=self.registry
        )
        self.failures = Counter(
            "motionbot_worker_failures", "Failed runs by reason", ["model", "reason"], registry=self.registry
        )
        self.seconds = Histogram(
            "motionbot_worker_job_seconds",
            "Time per job by model and stage",
            ["model", "stage"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.gpu_memory = Gauge(
            "motionbot_worker_gpu_peak_memory_bytes", "Peak GPU memory of the last job", registry=self.registry
        )
        self.busy = Gauge("motionbot_worker_busy", "1 while a job runs", registry=self.registry)
        self.safety = Counter(
            "motionbot_worker_safety",
            "Image checks by check (input, output) and result (pass, spoiler, refused)",
            ["check", "result"],
            registry=self.registry,
        )

    def observe_gpu(self) -> None:
        torch = sys.modules.get("torch")  # only a worker that already loaded torch has GPU figures
        if torch is not None and torch.cuda.is_available():
            self.gpu_memory.set(torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue_depth = Gauge("motionbot_queue_depth", "Jobs waiting in the queue", registry=self.registry)
        self.workers = Gauge("motionbot_workers_online", "GPU workers with a fresh heartbeat", registry=self.registry)
        self.submitted = Counter("motionbot_jobs_submitted", "Jobs queued", ["model"], registry=self.registry)
        self.finished = Counter(
            "motionbot_jobs_finished", "Jobs that ended", ["model", "state"], registry=self.registry
        )
        self.credits = Counter(
            "motionbot_credits_spent", "Credits charged for delivered clips", ["model"], registry=self.registry
        )
        self.seconds = Histogram(
            "motionbot_job_seconds", "From request to delivery", ["model"], buckets=_SECONDS, registry=self.registry
        )
        self.refused = Counter(
            "motionbot_requests_refused", "Requests refused before queueing", ["reason"], registry=self.registry
        )
        self.safety = Counter(
            "motionbot_safety",
            "Content checks by check (prompt, input, output) and result (pass, spoiler, refused)",
            ["check", "result"],
            registry=self.registry,
        )


def serve(registry: CollectorRegistry, port: int) -> bool:
    """Serve /metrics on `port` (0 = off) from a background thread; False if it could not."""
    if not port:
        return False
    try:
        start_http_server(port, registry=registry)
    except OSError as exc:
        logging.getLogger(__name__).warning("metrics off: port %d is not free (%s); set another one", port, exc)
        return False
    return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with `job_id` (and any other `extra=`) as fields."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in record.__dict__.items() if k not in self._STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Plain text logs, or JSON lines when MOTIONBOT_LOG_FORMAT=json."""
    import os

    handler = logging.StreamHandler()
    if os.environ.get("MOTIONBOT_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
