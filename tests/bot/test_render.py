"""The text of status, result and failure messages: user text can neither ping people nor break them."""

from __future__ import annotations

from bot.exts.video._render import failure_text, options_line, status_text
from bot.i18n import Catalogs
from generation.jobs import JobKind, VideoJob
from generation.queue import QueueState, QueueStatus
from generation.text import Text

ENGLISH = Catalogs.load().voice("en-US")


def job(**values: object) -> VideoJob:
    return VideoJob(**{"job_id": "j", "kind": JobKind.TEXT_TO_VIDEO, "model": "animatediff"} | values)  # type: ignore[arg-type]


def test_a_prompt_cannot_ping_anyone_or_break_the_formatting() -> None:
    text = status_text(
        job(prompt="hi <@123456789012345678> @everyone **bold** `code`"), 42, QueueState(QueueStatus.QUEUED), ENGLISH
    )
    assert "<@123456789012345678>" not in text and "@everyone" not in text
    assert "\\*\\*bold\\*\\*" in text and "<@42>" in text  # the requester is still mentioned


def test_negative_prompt_cannot_close_the_code_span_and_long_reasons_are_cut() -> None:
    assert "`" not in options_line(job(negative_prompt="blur` @everyone `"))
    assert len(failure_text(job(prompt="x"), 1, Text("y" * 5000), 10, ENGLISH)) < 500
