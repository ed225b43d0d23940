"""The text of status, result and failure messages: user text can neither ping people nor break them."""

from __future__ import annotations

from bot.exts.video._render import failure_text, options_line, status_text
from generation.queue import JobState


def test_a_prompt_cannot_ping_anyone_or_break_the_formatting() -> None:
    options = {"prompt": "hi <@123456789012345678> @everyone **bold** `code`", "kind": "text-to-video"}
    text = status_text(options, 42, JobState("queued"))
    assert "<@123456789012345678>" not in text and "@everyone" not in text
    assert "\\*\\*bold\\*\\*" in text and "<@42>" in text  # the requester is still mentioned


def test_negative_prompt_cannot_close_the_code_span_and_long_reasons_are_cut() -> None:
    assert "`" not in options_line({"negative_prompt": "blur` @everyone `"})
    assert len(failure_text({"prompt": "x"}, 1, "y" * 5000, 10)) < 500
