"""What the job queue answers with (torch-free): a job's place and progress, its outcome, the workers online,
a cancel's result, and the refusals of a submit. `generation/queue.py` is the client that reads them from
Redis."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from generation.blocklist import Verdict
from generation.jobs import Stage, VideoResult
from generation.text import Said, Text

__all__ = [
    "CancelResult",
    "Glance",
    "JobOutcome",
    "NoWorkerForModel",
    "Progress",
    "QueueFull",
    "QueueState",
    "QueueStatus",
    "WorkerInfo",
]


class NoWorkerForModel(Said, RuntimeError):
    """No live worker serves the job's model: the job would wait forever."""


class QueueFull(Said, RuntimeError):
    """Redis holds as much as it may (`MOTIONBOT_QUEUE__MAX_MEMORY_MB`): new jobs wait for room."""


class CancelResult(enum.StrEnum):
    REMOVED = "removed"  # it was queued and will never run
    STOPPING = "stopping"  # it is running and stops within one denoising step
    FINISHED = "finished"  # too late: it already has an outcome
    UNKNOWN = "unknown"  # no such job


class QueueStatus(enum.StrEnum):
    """Where the queue has a job (the ledger's `storage.jobs.JobState` is the bot's side of it)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # the three final ones are a job's outcome
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the queue does not hold it (never submitted, expired, or lost)


@dataclass(frozen=True)
class Progress:
    stage: Stage
    step: int
    total: int
    updated_at: float
    worker: str = ""
    note: Text | None = None  # a line for the status message (the motion brush's region, once segmented)
    previews: int = 0  # live previews published so far (the newest is `JobQueue.preview`)


@dataclass(frozen=True)
class JobOutcome:
    status: QueueStatus  # DONE, FAILED or CANCELLED
    reason: str = ""  # for failed / cancelled, written for the user (in English: logs, the ledger)
    result: VideoResult | None = None
    tries: int = 1
    worker: str = ""  # which worker ran it last
    finished_at: float = 0.0
    flagged: str = ""  # failed because the image check flagged its "input" or its "output"
    said: Text | None = None  # the reason as a Text, for the bot to say in the user's language
    refused: Verdict | None = None  # flagged "prompt": what the worker's check refused, for moderators

    @property
    def why(self) -> Text:
        """The reason, in any language."""
        return self.said or Text(self.reason)


@dataclass(frozen=True)
class QueueState:
    status: QueueStatus
    position: int | None = None  # 1 = next to start (queued jobs only)
    eta_s: float | None = None  # until the clip is ready, from recent render times
    progress: Progress | None = None
    served: bool = True  # False: no live worker serves this job's model

    def ready_at(self, now: float) -> int | None:
        """When the clip should be ready (Unix seconds), rounded up to the minute (to 15 s when it is near), so
        that a status showing it changes when the estimate moves, not with every second that passes."""
        if not self.eta_s:
            return None
        step = 15 if self.eta_s < 120 else 60
        return int(-(-(now + self.eta_s) // step) * step)


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    gpu: str
    gpu_memory_gb: float
    models: tuple[str, ...]
    current_job: str | None
    heartbeat_at: float
    pid: int = 0
    memory_mode: str = "balanced"  # full | balanced | low: how much of `gpu_memory_gb` a job needs

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "models": list(self.models)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerInfo:
        return cls(**{**data, "models": tuple(data["models"])})


@dataclass(frozen=True)
class Glance:
    """What one cheap look at many jobs says (`JobQueue.glance`)."""

    ended: set[str]  # they have their final outcome
    gone: set[str]  # no outcome and no place in the queue: lost, unless one shows up soon
