"""The text of status, result and failure messages: user text can neither ping people nor break them."""

from __future__ import annotations

from bot.exts.video._render import edit_interval, failure_text, options_line, prompt_note, result_text, status_text
from bot.i18n import Catalogs
from generation.jobs import JobKind, Stage, VideoJob, VideoResult
from generation.queue_types import Progress, QueueState, QueueStatus
from generation.registry import DEFAULT_MODELS
from generation.text import Text
from storage.quotas import credits_of

CATALOGS = Catalogs.load()
ENGLISH, JAPANESE = CATALOGS.voice("en-US"), CATALOGS.voice("ja")


def job(**values: object) -> VideoJob:
    return VideoJob(**{"job_id": "j", "kind": JobKind.TEXT_TO_VIDEO, "model": "animatediff"} | values)  # type: ignore[arg-type]


def test_a_prompt_cannot_ping_anyone_or_break_the_formatting() -> None:
    text = status_text(
        job(prompt="hi <@123456789012345678> @everyone **bold** `code`"), 42, QueueState(QueueStatus.QUEUED), ENGLISH
    )
    assert "<@123456789012345678>" not in text and "@everyone" not in text
    assert "\\*\\*bold\\*\\*" in text and "<@42>" in text  # the requester is still mentioned


def test_a_prompt_cannot_dress_up_as_the_bot_with_links_headings_or_lines_of_its_own() -> None:
    prompt = "[free nitro](https://evil.example/gift) see https://evil.example/x_y\n# Official notice\n-# fine print"
    text = result_text(
        job(prompt=prompt), 42, VideoResult("j", b"", "video/mp4", 64, 64, 16, 8, 2.0, 1, "animatediff", 4), 0, ENGLISH
    )
    headline = text.splitlines()[0]
    assert "\\[free nitro]" in headline, "a masked link is shown as typed, not as a link"
    assert "<https://evil.example/x_y>" in headline, "a bare link gets no preview under the bot's message"
    assert "(<https://evil.example/gift>)" in headline, "a link ends where it would end in Discord"
    assert headline.endswith("# Official notice -# fine print** — <@42>"), "on one line: no heading of its own"


def test_negative_prompt_cannot_close_the_code_span_and_long_reasons_are_cut() -> None:
    assert "`" not in options_line(job(negative_prompt="blur` @everyone `"))
    assert len(failure_text(job(prompt="x"), 1, Text("y" * 5000), 10, ENGLISH)) < 500


def test_the_ready_time_holds_still_while_time_passes_and_moves_with_the_estimate() -> None:
    def ready_at(eta_s: float, now: float) -> int:
        return QueueState(QueueStatus.QUEUED, position=3, eta_s=eta_s).ready_at(now) or 0

    now = 60 * 28_333_333 + 10.0  # 10 s past a whole minute
    assert ready_at(600, now) == ready_at(600, now + 20) == ready_at(620, now), "the same minute: no edit"
    assert ready_at(660, now) == ready_at(600, now) + 60, "a minute later: it says so"
    assert ready_at(30, now) == ready_at(30, now + 4) and ready_at(30, now) % 15 == 0, "near: to 15 s"
    assert ready_at(600, now) >= now + 600, "rounded up: never sooner than the estimate"
    assert QueueState(QueueStatus.QUEUED, position=3).ready_at(now) is None, "no estimate yet"


def test_a_job_far_back_in_line_is_edited_less_often() -> None:
    def queued(position: int) -> QueueState:
        return QueueState(QueueStatus.QUEUED, position=position)

    assert edit_interval(5, queued(1)) == edit_interval(5, queued(10)) == 5
    assert edit_interval(5, queued(100)) == 50 and edit_interval(5, queued(400)) == 200
    assert edit_interval(5, QueueState(QueueStatus.RUNNING)) == 5, "progress is shown at the full rate"


def test_credits_are_counted_in_good_english_and_in_the_catalogs_words() -> None:
    clip = VideoResult("j", b"", "video/mp4", 64, 64, 16, 8, 2.0, 1, "animatediff", 4)
    assert "· 1 credit" in result_text(job(), 1, clip, 1, ENGLISH) and "1 credits" not in result_text(
        job(), 1, clip, 1, ENGLISH
    )
    assert "· 12 credits" in result_text(job(), 1, clip, 12, ENGLISH)
    assert "1 credit refunded." in failure_text(job(), 1, Text("no"), 1, ENGLISH)
    assert "3 credits refunded." in failure_text(job(), 1, Text("no"), 3, ENGLISH)
    assert "3 クレジットを返却しました" in failure_text(job(), 1, Text("no"), 3, JAPANESE)
    assert ENGLISH(credits_of(-1)) == "-1 credits", "a grant taken back keeps its sign"


def test_a_job_a_worker_took_reads_starting_not_queued_until_the_worker_says_more() -> None:
    queued_mark = Progress(Stage.QUEUED, 0, 0, 0.0)  # what the submit published
    taken = status_text(job(), 1, QueueState(QueueStatus.RUNNING, progress=queued_mark, served=True), ENGLISH)
    assert "Starting" in taken and "Queued" not in taken
    loading = QueueState(QueueStatus.RUNNING, progress=Progress(Stage.LOADING, 0, 0, 0.0), served=True)
    assert "Loading the model" in status_text(job(), 1, loading, ENGLISH)
    assert "Queued" in status_text(job(), 1, QueueState(QueueStatus.QUEUED, progress=queued_mark), ENGLISH)


def test_a_prompt_or_negative_prompt_a_model_cannot_read_is_said_never_silently_ignored() -> None:
    svd, ltx = DEFAULT_MODELS["svd-xt"], DEFAULT_MODELS["ltx"]
    for words in ({"prompt": "a cat turns"}, {"negative_prompt": "blurry"}):
        assert prompt_note(job(kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt", **words), svd) is not None, words
        assert prompt_note(job(kind=JobKind.IMAGE_TO_VIDEO, model="ltx", **words), ltx) is None, words
    assert prompt_note(job(kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt"), svd) is None, "nothing given"


def test_a_swap_says_what_it_redrew_and_its_words_cannot_ping_or_break_the_line() -> None:
    clip = VideoResult("j", b"", "video/mp4", 64, 64, 9, 16, 0.6, 1, "wan-vace", 2)
    region = "the car <@123456789012345678> **x**"
    swap = job(kind=JobKind.RESTYLE, model="wan-vace", prompt="a blue truck", region=region)
    said = result_text(swap, 1, clip, 1, ENGLISH).splitlines()[-1]  # the flags line above holds it in a code span
    assert "redrew “the car" in said and "9 frames" in said
    assert "<@123456789012345678>" not in said and "\\*\\*x\\*\\*" in said
    assert "restyled, 9 frames" in result_text(job(kind=JobKind.RESTYLE, model="wan"), 1, clip, 1, ENGLISH)
    assert "「the car" in result_text(swap, 1, clip, 1, JAPANESE), "in the catalogs too"
