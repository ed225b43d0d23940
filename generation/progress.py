"""Progress reports and cooperative cancellation for a render running in a worker thread (torch-free)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from generation.blocklist import Verdict
from generation.jobs import Stage
from generation.text import Said, Text, _

__all__ = [
    "ContentFlagged",
    "FinalError",
    "JobCancelled",
    "LatentsFn",
    "OutlineFn",
    "PreviewFn",
    "ProgressFn",
    "PromptRefused",
    "Reporter",
]

ProgressFn = Callable[[Stage, int, int], None]  # (stage, step, total steps)
OutlineFn = Callable[[Text, bytes], None]  # the motion brush's region: (a line for the status message, a PNG)
PreviewFn = Callable[[bytes], None]  # a live preview of the clip as it denoises (an animated GIF)
LatentsFn = Callable[[Any, int, int], None]  # the latents after a denoising step: (latents, step, total)


class FinalError(Said):
    """A failure that running the job again will not fix. The message is written for the user."""


class ContentFlagged(FinalError, ValueError):
    """The image check flagged the job's input pictures (`check` "input") or its clip ("output") where the
    server's policy refuses them. The message is written for the user; the clip is never stored."""

    def __init__(self, check: str, text: Text | None = None):
        self.check = check
        if text is None and check == "input":
            text = _("the image safety check flagged your picture, so it is not posted here; you were not charged")
        elif text is None:
            text = _("the image safety check flagged the clip it made, so it is not posted here; you were not charged")
        super().__init__(text)


class PromptRefused(ContentFlagged):
    """The prompt, translated to English for a model that reads only English, is refused by the built-in block
    list under the server's policy: the bot's check read it in the language it was written in. The `verdict`
    (rule, matched term, the English read) is for the moderation log."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict
        rule = verdict.rule
        super().__init__(
            "prompt", _("your prompt, read in English, is refused by {rule}; you were not charged", rule=rule)
        )


class JobCancelled(Exception):
    """The job was cancelled while it ran."""


class Reporter:
    """Passes progress to `on_progress` and raises JobCancelled at the next check once `cancel` is set."""

    def __init__(
        self,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_latents: LatentsFn | None = None,
    ):
        self._on_progress = on_progress
        self._cancel = cancel or threading.Event()
        self._on_latents = on_latents  # the live preview's: it sees the latents after each step

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()

    def stage(self, stage: Stage, step: int = 0, total: int = 0) -> None:
        self.check()
        if self._on_progress is not None:
            self._on_progress(stage, step, total)

    def step_callback(self, total: int, done: int = 0) -> Callable[..., dict[str, Any]]:
        """A diffusers `callback_on_step_end`: reports each step, stops the pipeline once cancelled. A job of
        several pipeline runs (prompt travel, an upscale's refine pass) passes the steps `done` before this run
        and the `total` of all of them.

        Raising here leaves the denoising loop right after the current step and skips the VAE decode,
        so a cancel costs at most one step.
        """

        def callback(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            self.stage(Stage.DENOISING, done + step + 1, total)
            if self._on_latents is not None and "latents" in kwargs:
                self._on_latents(kwargs["latents"], done + step + 1, total)
            if done + step + 1 == total:
                self.stage(Stage.DECODING, total, total)
            return kwargs

        return callback
