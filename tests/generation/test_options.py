from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.job_builder import build_job
from generation.jobs import JobKind, OutputFormat, VideoJob
from generation.options import (
    FLAGS,
    MOST_PROBLEMS,
    OptionError,
    Options,
    flags_line,
    from_command,
    parse_flags,
    preferences_of,
)
from generation.registry import DEFAULT_MODELS
from generation.values import Aspect, Camera


def test_a_full_pika_prompt_parses_every_flag() -> None:
    options = parse_flags(
        'a fox in the snow -motion 3 -camera pan up left -fps 12 -gs 16 -neg "blurry, text" -ar 9:16 '
        "-seed 42 -model animatediff -frames 16 -steps 30"
    )
    assert options == Options(
        prompt="a fox in the snow",
        negative_prompt="blurry, text",
        motion=3,
        camera=Camera(pan_x=-1, pan_y=-1),
        fps=12,
        guidance=16.0,
        aspect="9:16",
        seed=42,
        model="animatediff",
        frames=16,
        steps=30,
    )


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("-motion 0", "motion", 0),
        ("-motion 4", "motion", 4),
        ("-fps 8", "fps", 8),
        ("-fps 24", "fps", 24),
        ("-gs 8", "guidance", 8.0),
        ("-guidance 24", "guidance", 24.0),
        ("-gs 12.5", "guidance", 12.5),
        ("-ar 4:5", "aspect", "4:5"),
        ("-aspect 16x9", "aspect", "16:9"),
        ("-ar 16X9", "aspect", "16:9"),
        ("-seed 0", "seed", 0),
        ("-seed 4294967295", "seed", 4294967295),
        ("-model SVD-XT", "model", "svd-xt"),
        ("-frames 2", "frames", 2),
        ("-duration 1.5", "duration", 1.5),
        ("-steps 1", "steps", 1),
        ("-negative ugly hands", "negative_prompt", "ugly hands"),
        ("-neg 'low quality'", "negative_prompt", "low quality"),
        ("-neg “smart quotes”", "negative_prompt", "smart quotes"),
        ("-strength 0,5", "strength", 0.5),  # a decimal comma
        ("-gs 12,5", "guidance", 12.5),
        ("-neg « flou, sombre » -motion 2", "negative_prompt", "flou, sombre"),  # other languages' quotes
        ("-neg „unscharf, dunkel“ -motion 2", "negative_prompt", "unscharf, dunkel"),
        ("-neg 「ぼやけた 画像」 -motion 2", "negative_prompt", "ぼやけた 画像"),
        ("-region 『青い 空』 -motion 2", "region", "青い 空"),
        ("--motion 2", "motion", 2),
        ("—motion 2", "motion", 2),  # phones turn -- into an em dash
        ("-motion=3", "motion", 3),  # the command-line habit
        ("--camera=zoom in", "camera", Camera(zoom=1)),
        ("-neg='low quality'", "negative_prompt", "low quality"),
        ("-ar=9:16", "aspect", "9:16"),
    ],
)
def test_each_flag_reads_its_value(text: str, field: str, value: object) -> None:
    assert getattr(parse_flags(text), field) == value


@pytest.mark.parametrize("aspect", list(Aspect))
def test_every_supported_aspect_is_accepted(aspect: str) -> None:
    assert parse_flags(f"-ar {aspect}").aspect == aspect


@pytest.mark.parametrize(
    ("text", "camera"),
    [
        ("zoom in", Camera(zoom=1)),
        ("zoom out", Camera(zoom=-1)),
        ("pan left", Camera(pan_x=-1)),
        ("pan right", Camera(pan_x=1)),
        ("pan up", Camera(pan_y=-1)),
        ("pan down", Camera(pan_y=1)),
        ("pan up left", Camera(pan_x=-1, pan_y=-1)),
        ("pan left up", Camera(pan_x=-1, pan_y=-1)),
        ("pan down right", Camera(pan_x=1, pan_y=1)),
        ("rotate clockwise", Camera(rotate=1)),
        ("rotate cw", Camera(rotate=1)),
        ("rotate counterclockwise", Camera(rotate=-1)),
        ("rotate ccw", Camera(rotate=-1)),
        ("rotate anticlockwise", Camera(rotate=-1)),
        ("rotate acw", Camera(rotate=-1)),
        ("rotate counter-clockwise", Camera(rotate=-1)),
        ("Zoom In", Camera(zoom=1)),
        ("zoom-in", Camera(zoom=1)),
    ],
)
def test_camera_moves_parse_as_value_and_as_flag(text: str, camera: Camera) -> None:
    assert Camera.parse(text) == camera
    flagged = parse_flags(f"a cat -camera {text} running fast")
    assert flagged.camera == camera
    assert flagged.prompt == "a cat running fast"


@pytest.mark.parametrize("text", ["zoom in pan left", "rotate cw zoom out", "zoom-in pan-left", "pan up zoom in"])
def test_two_camera_moves_at_once_are_refused_not_read_as_prompt(text: str) -> None:
    with pytest.raises(OptionError, match="one move at a time"):
        parse_flags(f"a cat -camera {text}")


def test_camera_words_after_a_move_that_are_not_a_move_stay_in_the_prompt() -> None:
    options = parse_flags("a cat -camera zoom in on a pan of soup")
    assert options.camera == Camera(zoom=1) and options.prompt == "a cat on a pan of soup"


def test_camera_has_a_canonical_text_form_that_parses_back() -> None:
    for camera in (Camera(zoom=1), Camera(pan_x=-1, pan_y=-1), Camera(rotate=-1), Camera(pan_x=1)):
        assert Camera.parse(str(camera)) == camera
    assert str(Camera(pan_x=-1, pan_y=-1)) == "pan up left"


@pytest.mark.parametrize(
    ("text", "flag", "needle"),
    [
        ("-motion 7", "-motion", "0–4"),
        ("-motion -1", "-motion", "0–4"),
        ("-motion two", "-motion", "whole number"),
        ("-motion 2.5", "-motion", "whole number"),
        ("-fps 7", "-fps", "8–24"),
        ("-fps 25", "-fps", "8–24"),
        ("-gs 7.9", "-gs", "8–24"),
        ("-gs nan", "-gs", "number"),
        ("-gs inf", "-gs", "number"),
        ("-ar 7:3", "-ar", "16:9"),
        ("-seed -1", "-seed", "0–4294967295"),
        ("-seed 4294967296", "-seed", "0–4294967295"),
        ("-seed " + "9" * 5000, "-seed", "whole number"),
        ("-model dalle", "-model", "svd-xt"),
        ("-frames 1", "-frames", "2–257"),
        ("-steps 0", "-steps", "1–100"),
        ("-duration 0", "-duration", "0.1–16"),
        ("-camera pan left right", "-camera", "zoom in"),
        ("-camera pan up down", "-camera", "zoom in"),
        ("-camera sideways", "-camera", "zoom in"),
        ("-camera zoom", "-camera", "zoom in"),
        ("-camera 'zoom in pan left'", "-camera", "zoom in"),
    ],
)
def test_out_of_range_values_name_the_flag_value_and_range(text: str, flag: str, needle: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_flags(text)
    assert caught.value.flag == flag
    assert flag in str(caught.value) and needle in str(caught.value)


def test_unknown_flag_is_named_with_the_known_ones() -> None:
    with pytest.raises(OptionError, match=r"unknown flag `-speed`.*-motion"):
        parse_flags("a cat -speed 3")


@pytest.mark.parametrize("text", ["-motion", "a cat -seed", "-fps -motion 2"])
def test_a_flag_without_its_value_says_so(text: str) -> None:
    with pytest.raises(OptionError, match="needs a value"):
        parse_flags(text)


def test_a_flag_given_twice_is_an_error() -> None:
    with pytest.raises(OptionError, match="given twice"):
        parse_flags("-motion 1 a cat -motion 2")


def test_every_problem_in_a_flags_line_is_told_at_once_one_to_a_line() -> None:
    with pytest.raises(OptionError) as caught:
        parse_flags("a cat -motion 9 leaping -fps 99 -zzz 3 -camera sideways -seed 7 -neg")
    lines = str(caught.value).split("\n")
    assert len(lines) == 5 and lines[0] == "`-motion` must be 0–4, got `9`" and "`-fps` must be 8–24" in lines[1]
    assert "unknown flag `-zzz`" in lines[2] and "`-camera` must be" in lines[3] and "`-neg` needs a value" in lines[4]
    assert caught.value.flag == "-motion", "the first problem names the error"
    with pytest.raises(OptionError) as many:
        parse_flags("-motion 9 -fps 99 -gs 99 -ar 7:3 -seed -1 -frames 1 -steps 0")
    assert str(many.value).count("\n") == MOST_PROBLEMS - 1, "at most five"
    with pytest.raises(OptionError) as unknown:
        parse_flags("a cat -speed 3 -motion 2 -zoom in -Sped 1")
    assert str(unknown.value) == (
        "unknown flags `-speed`, `-zoom`, `-Sped`; known flags: " + ", ".join(f"-{flag}" for flag in FLAGS)
    ), "named once, together"
    with pytest.raises(OptionError) as flood:
        parse_flags(" ".join(f"-x{letter}" for letter in "abcdefghi"))
    assert str(flood.value).startswith("unknown flags `-xa`, `-xb`, `-xc`, `-xd`, `-xe`, …; known flags:"), "bounded"
    with pytest.raises(OptionError) as long:
        parse_flags("x" * 1001 + " -motion 9")
    assert "`-motion`" in str(long.value) and "at most 1000 characters" in str(long.value)


def test_quoted_prompt_words_are_kept_as_typed() -> None:
    assert parse_flags("猫が 「こんにちは」 と言う -motion 2").prompt == "猫が 「こんにちは」 と言う"
    assert parse_flags("a sign saying “open” -motion 2").prompt == "a sign saying “open”"


def test_words_that_only_look_like_flags_stay_in_the_prompt() -> None:
    assert parse_flags("a well-known cat, -5 degrees - cold").prompt == "a well-known cat, -5 degrees - cold"
    assert parse_flags("it's a cat's toy").prompt == "it's a cat's toy"


def test_flags_typed_in_full_width_with_a_cjk_input_method_read_as_flags_and_the_prompt_stays_as_typed() -> None:
    options = parse_flags("ねこが走る －ｍｏｔｉｏｎ　３ -ar 16：9 －ｃａｍｅｒａ ｚｏｏｍ　ｉｎ -seed ４２")
    assert (options.motion, options.aspect, options.seed) == (3, Aspect.WIDE, 42)
    assert options.camera == parse_flags("-camera zoom in").camera and options.prompt == "ねこが走る"
    assert parse_flags("a cat -ar 9×16").aspect == Aspect.TALL
    assert parse_flags("ａ ｃａｔ").prompt == "ａ ｃａｔ"


def test_a_dash_an_input_method_or_a_keyboard_types_instead_of_a_hyphen_starts_a_known_flag_only() -> None:
    for dash in "ー−‐‑":  # a Japanese input method's "-", a minus sign, hyphens
        options = parse_flags(f"ねこが走る {dash}motion 3 {dash}ar 9:16")
        assert (options.prompt, options.motion, options.aspect) == ("ねこが走る", 3, Aspect.TALL), dash
    assert parse_flags("スーパーMario ーabc").prompt == "スーパーMario ーabc", "no flag's name: words"


def test_typed_options_win_over_flags_in_the_prompt() -> None:
    options = from_command("a cat -motion 3 -camera zoom in -seed 5", motion=1, camera="pan right")
    assert (options.motion, options.camera, options.seed, options.prompt) == (1, Camera(pan_x=1), 5, "a cat")


def test_typed_options_are_checked_like_flags() -> None:
    with pytest.raises(OptionError, match="`-motion` must be 0–4"):
        from_command("a cat", motion=9)
    with pytest.raises(OptionError, match="`-gs`"):
        from_command("a cat", guidance=30.0)


@pytest.mark.parametrize("typed", ["9:16", "９：１６", "9 × 16", "9X16", " 9 / 16 "])
def test_a_shape_typed_in_a_form_is_read_as_any_keyboard_types_it(typed: str) -> None:
    assert from_command("", aspect=typed).aspect == Aspect.TALL


def test_too_long_prompt_is_refused() -> None:
    with pytest.raises(OptionError, match="at most 1000 characters"):
        parse_flags("word " * 400)


def test_controls_and_direction_overrides_never_reach_the_prompt_or_its_echo() -> None:
    options = parse_flags('a\x00cat\x1b[31m on\u202e a mat -neg "blur\u2066ry\x07"')
    assert options.prompt == "a cat [31m on a mat" and options.negative_prompt == "blurry"
    assert parse_flags("a 👩‍🚀 astronaut").prompt == "a 👩‍🚀 astronaut", "emoji joiners stay"
    assert parse_flags("a ca\u200bt on\xad a\u2060 mat\ufeff").prompt == "a cat on a mat", "what shows nothing goes"
    assert parse_flags("\u200b \u3164 -gif").prompt == "", "a prompt of invisible characters is no prompt"


def test_what_a_refusal_or_a_status_quotes_cannot_format_the_bots_message() -> None:
    with pytest.raises(OptionError) as refused:
        parse_flags("-motion x`[free nitro](https://evil.example)")
    assert str(refused.value).count("`") == 4, "the value stays inside its code span"
    region = parse_flags('a cat -region "[the sea](https://evil.example) **now**"').region
    assert region == "the sea https //evil.example now", "no markdown, no link to preview"


def test_build_job_checks_frames_against_the_model() -> None:
    with pytest.raises(OptionError, match="`-frames` must be 2–25 on svd-xt"):
        build_job(
            parse_flags("-frames 40"),
            job_id="j",
            kind=JobKind.IMAGE_TO_VIDEO,
            models=DEFAULT_MODELS,
            default_model="svd-xt",
            image=b"x",
        )


def test_build_job_turns_duration_into_frames_at_the_fps() -> None:
    job = build_job(
        parse_flags("-duration 2 -fps 8"),
        job_id="j",
        kind=JobKind.IMAGE_TO_VIDEO,
        models=DEFAULT_MODELS,
        default_model="svd-xt",
        image=b"x",
    )
    assert (job.frames, job.fps) == (16, 8)
    with pytest.raises(OptionError, match=r"`-duration` must be at most 1 s at 24 fps on svd-xt, got `3`$"):
        build_job(  # the value as typed, not as the float it was read into
            parse_flags("-duration 3"),
            job_id="j",
            kind=JobKind.IMAGE_TO_VIDEO,
            models=DEFAULT_MODELS,
            default_model="svd-xt",
            image=b"x",
        )


def test_build_job_refuses_a_model_for_the_wrong_input() -> None:
    with pytest.raises(OptionError, match="a model for text input"):
        build_job(
            parse_flags("a cat -model svd"),
            job_id="j",
            kind=JobKind.TEXT_TO_VIDEO,
            models=DEFAULT_MODELS,
            default_model="animatediff",
        )


def test_build_job_fills_defaults_and_canonical_camera() -> None:
    job = build_job(
        parse_flags("a cat -camera pan left up"),
        job_id="j",
        kind=JobKind.TEXT_TO_VIDEO,
        models=DEFAULT_MODELS,
        default_model="animatediff",
        user_id="9",
    )
    assert (job.model, job.motion, job.fps, job.camera, job.user_id) == (
        "animatediff",
        1,
        24,
        Camera(pan_x=-1, pan_y=-1),
        "9",
    )


def test_upscale_is_a_flag_without_a_value_and_echoes_back() -> None:
    options = parse_flags("a cat -upscale -motion 2")
    assert (options.prompt, options.upscale, options.motion) == ("a cat", True, 2)
    assert flags_line(options) == "-motion 2 -upscale"
    assert parse_flags(flags_line(options)).upscale is True
    assert flags_line(parse_flags("a cat")) == "", "off is not echoed"


def test_gif_asks_for_an_animated_gif_and_echoes_back_from_the_job() -> None:
    options = parse_flags("a cat -gif -motion 2")
    job = build_job(options, job_id="j", kind=JobKind.TEXT_TO_VIDEO, models=DEFAULT_MODELS, default_model="animatediff")
    assert job.output is OutputFormat.GIF and flags_line(Options.of(job)) == "-model animatediff -motion 2 -fps 24 -gif"
    plain = build_job(
        parse_flags("a cat"), job_id="j", kind=JobKind.TEXT_TO_VIDEO, models=DEFAULT_MODELS, default_model="animatediff"
    )
    assert plain.output is OutputFormat.MP4 and "-gif" not in flags_line(Options.of(plain))


def test_loop_is_for_a_picture_on_a_keyframe_model_without_a_camera_move_or_another_last_picture() -> None:
    def built(text: str, kind: JobKind = JobKind.IMAGE_TO_VIDEO, end: bytes | None = None) -> VideoJob:
        return build_job(
            parse_flags(text), job_id="j", kind=kind, models=DEFAULT_MODELS, default_model="ltx", end_image=end
        )

    job = built("waves -loop -camera lock")
    assert job.loop and flags_line(Options.of(job)).endswith("-camera lock -fps 24 -loop") and "loop" in job.to_dict()
    assert "loop" not in built("waves").to_dict(), "sent only when set: older workers read every other job"
    refusals = {
        "waves -loop -model svd-xt": "`svd-xt` cannot loop; models that can: ltx, ltx-dev, wan-i2v",
        "waves -loop -camera zoom in": "would not come back to the start",
    }
    for text, needle in refusals.items():
        with pytest.raises(OptionError, match=re.escape(needle)):
            built(text)
    with pytest.raises(OptionError, match="use /animate"):
        built("waves -loop -model ltx", JobKind.TEXT_TO_VIDEO)
    with pytest.raises(OptionError, match="drop the last picture"):
        built("waves -loop", end=b"png")


def test_pictures_in_between_need_a_last_picture_and_a_model_that_passes_through_them() -> None:
    def built(text: str, middle: int, end: bytes | None = b"png", kind: JobKind = JobKind.IMAGE_TO_VIDEO) -> VideoJob:
        return build_job(
            parse_flags(text),
            job_id="j",
            kind=kind,
            models=DEFAULT_MODELS,
            default_model="ltx",
            image=b"png",
            end_image=end,
            middle_images=(b"png",) * middle,
        )

    assert built("a cat", 3).middle_images == (b"png",) * 3
    refusals = {
        ("a cat -model wan-i2v", 1, b"png"): "`wan-i2v` cannot pass through pictures between the first and the "
        "last; models that can: ltx, ltx-dev",
        ("a cat", 4, b"png"): "at most 5 pictures in all",
        ("a cat", 1, None): "need a first and a last picture",
    }
    for (text, middle, end), needle in refusals.items():
        with pytest.raises(OptionError, match=re.escape(needle)):
            built(text, middle, end)


@pytest.mark.parametrize(
    ("text", "end", "needle"),
    [
        ("a | b -model svd-xt", None, "cannot do prompt travel"),
        ("a cat -model svd-xt", b"png", "cannot end on a given picture"),
        ("a cat -model svd-xt -upscale", None, "cannot do `-upscale`"),
    ],
)
def test_what_a_model_cannot_do_is_refused_naming_models_that_can(text: str, end: bytes | None, needle: str) -> None:
    with pytest.raises(OptionError, match=needle) as caught:
        build_job(
            parse_flags(text),
            job_id="j",
            kind=JobKind.IMAGE_TO_VIDEO,
            models=DEFAULT_MODELS,
            default_model="svd-xt",
            image=b"png",
            end_image=end,
        )
    assert "ltx, ltx-dev" in str(caught.value)


def test_fast_is_a_draft_tier_on_the_models_that_have_one() -> None:
    options = parse_flags("a cat -fast")
    assert (options.prompt, options.fast, flags_line(options)) == ("a cat", True, "-fast")

    def job(text: str, model: str) -> VideoJob:
        return build_job(
            parse_flags(text), job_id="j", kind=JobKind.TEXT_TO_VIDEO, models=DEFAULT_MODELS, default_model=model
        )

    assert job("a cat -fast", "wan").fast and not job("a cat", "wan").fast
    assert Options.of(job("a cat -fast", "wan")).fast, "a Reroll keeps the tier"
    with pytest.raises(OptionError, match="`animatediff-lightning` has no `-fast` tier") as caught:
        job("a cat -fast", "animatediff-lightning")
    assert "animatediff, t2i-svd, ltx-dev, wan" in str(caught.value) and "svd-xt" not in str(caught.value)
    assert "fast" not in job("a cat", "wan").to_dict(), "sent only when set: older workers read other jobs"
    assert VideoJob.from_dict(job("a cat -fast", "wan").to_dict()).fast


def test_prompt_travel_takes_up_to_four_non_empty_prompts() -> None:
    def travel(prompt: str) -> object:
        return build_job(
            parse_flags(prompt), job_id="j", kind=JobKind.TEXT_TO_VIDEO, models=DEFAULT_MODELS, default_model="ltx"
        )

    assert travel("a | b | c | d").prompt == "a | b | c | d"  # type: ignore[attr-defined]
    for bad in ("a | b | c | d | e", "a | | b"):
        with pytest.raises(OptionError, match="2–4 non-empty prompts"):
            travel(bad)


_TRICKY = ["-", "--", "—", '"', "“", "'", "zoom", "in", "pan", "left", "up", "rotate", "cw", "3", "-1", "1e9", "16:9"]
_FLAG_WORDS = st.sampled_from([f"-{f}" for f in FLAGS] + _TRICKY)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_FLAG_WORDS, st.text(max_size=12)), max_size=14).map(" ".join))
def test_parsing_is_total_on_flag_like_text(text: str) -> None:
    try:
        options = parse_flags(text)
    except OptionError as exc:
        assert str(exc)
    else:
        assert isinstance(options, Options)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parsing_is_total_on_any_text(text: str) -> None:
    with contextlib.suppress(OptionError):
        parse_flags(text)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a cat -gif", "preferences are flags only"),
        ("-seed 3", "`-seed` is for one request; preferences take -model -motion"),
        ("-frames 40", "`-frames` is for one request"),
        ("-ar 7:3", "`-ar` must be one of"),
    ],
)
def test_preferences_refuse_prompt_words_per_request_options_and_bad_values(text: str, needle: str) -> None:
    with pytest.raises(OptionError) as raised:
        preferences_of(text)
    assert needle in str(raised.value.text)


def test_preferences_are_kept_as_the_echo_writes_them() -> None:
    kept = preferences_of("-style anime -neg blurry, text -ar 9:16 -gif")
    assert flags_line(kept) == '-ar 9:16 -neg "blurry, text" -gif -style anime'
    assert preferences_of("") == Options()
