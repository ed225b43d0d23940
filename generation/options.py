"""Job options from typed slash-command values and from Pika-style flags in prompt text (torch-free).

    "a fox in the snow -motion 3 -camera pan up left -neg "blurry, text" -ar 9:16 -seed 42"

`parse_flags` returns the options and the prompt that is left; `from_command` merges typed values over
flags (typed wins); `job_builder.build_job` checks them against a model and makes the `VideoJob`. Every problem is
an `OptionError` naming the flag, the value and the allowed range (`option_values` reads and checks each
value; the table of options here says which reader each flag has). Parsing is total: any string gives
options or an OptionError, never another exception.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from generation import option_values as read
from generation.jobs import OutputFormat, VideoJob
from generation.option_values import MOST_PROBLEMS, OptionError
from generation.text import _
from generation.values import CAMERA_HELP, Aspect, Camera, camera_prefix

__all__ = [
    "FLAGS",
    "MAX_FRAMES",
    "MAX_SEGMENTS",
    "MOST_PROBLEMS",
    "NONE_ENABLED",
    "NOTHING",
    "PREFERABLE",
    "SEGMENTS",
    "OptionError",
    "Options",
    "flag_reference",
    "flags_line",
    "from_command",
    "parse_flags",
    "preferable_flags",
    "preferences_of",
    "segments_of",
]

MAX_PROMPT = 1000
MAX_SEED = 2**32 - 1
MAX_FRAMES = 257  # LTX's longest clip; each model's own maximum is checked against its registry row
SEGMENTS = " | "  # prompt travel: "a cat sleeps | the cat wakes", one prompt per segment
MAX_SEGMENTS = 4
NONE_ENABLED = _("none enabled")
NOTHING = _("(nothing)")


@dataclass(frozen=True)
class Options:
    """What a user asked for; None means "not given" (the model's default applies)."""

    prompt: str = ""
    negative_prompt: str | None = None
    motion: int | None = None
    camera: Camera | None = None
    fps: int | None = None
    guidance: float | None = None
    aspect: Aspect | None = None
    seed: int | None = None
    model: str | None = None
    frames: int | None = None
    duration: float | None = None
    steps: int | None = None
    upscale: bool | None = None
    fast: bool | None = None
    gif: bool | None = None  # the clip as an animated GIF (plays and loops inline), not an MP4
    loop: bool | None = None  # a seamless loop: the clip ends on the picture it starts on
    strength: float | None = None
    style: str | None = None
    effect: str | None = None  # what happens to the subject (`-effect melt`)
    region: str | None = None

    def over(self, other: Options) -> Options:
        """These options, with `other`'s values wherever these are not given."""
        merged = {
            f.name: getattr(self, f.name) if getattr(self, f.name) is not None else getattr(other, f.name)
            for f in dataclasses.fields(self)
        }
        merged["prompt"] = self.prompt or other.prompt
        return Options(**merged)

    @classmethod
    def of(cls, job: VideoJob) -> Options:
        """Everything a job was made with, as options (the echo line, the Remix form)."""
        given = {name: getattr(job, name) for name in _OPTIONS if name not in ("duration", "gif")}
        if job.seamless and job.frames:  # the frames it plays: asked again, they round up to what it renders
            given["frames"] = job.frames - 1
        given |= {"negative_prompt": job.negative_prompt or None, "upscale": job.upscale or None}
        given |= {"fast": job.fast or None, "gif": job.output is OutputFormat.GIF or None, "loop": job.loop or None}
        return cls(prompt=job.prompt, **given)


# Every option once: its check and its flags, in the order the echo line shows them.
_OPTIONS: dict[str, read.Option] = {
    "model": read.Option(read.model, ("model",), values="<model>"),
    "motion": read.whole(0, 4, ("motion",)),
    "camera": read.Option(read.camera, ("camera",), values="<move>"),
    "fps": read.whole(8, 24, ("fps",)),
    "guidance": read.number(8, 24, ("gs", "guidance")),
    "aspect": read.Option(read.aspect, ("ar", "aspect"), values="|".join(aspect.value for aspect in Aspect)),
    "frames": read.whole(2, MAX_FRAMES, ("frames",)),
    "duration": read.number(0.1, 16, ("duration",)),
    "steps": read.whole(1, 100, ("steps",)),
    "seed": read.whole(0, MAX_SEED, ("seed",)),
    "negative_prompt": read.Option(read.text(500), ("neg", "negative"), values='"<words>"'),
    "upscale": read.Option(read.switch, ("upscale",), switch=True),
    "fast": read.Option(read.switch, ("fast",), switch=True),
    "gif": read.Option(read.switch, ("gif",), switch=True),
    "loop": read.Option(read.switch, ("loop",), switch=True),
    "strength": read.number(0.1, 1.0, ("strength",)),
    "style": read.Option(read.style, ("style",), values="<style>"),
    "effect": read.Option(read.effect, ("effect",), values="<effect>"),
    "region": read.Option(read.text(100, plain=True), ("region",), values='"<words>"'),
}
_PROMPT = read.text(MAX_PROMPT)
_RUNS = ("negative_prompt", "region")  # text options whose unquoted value runs to the next flag
FLAGS: dict[str, str] = {flag: name for name, option in _OPTIONS.items() for flag in option.flags}


def flag_reference() -> list[str]:
    """Every flag with what it takes, as /help lists them: "-motion 0–4", "-fast"."""
    return [f"-{option.flags[0]} {option.values}".rstrip() for option in _OPTIONS.values()]


def _flag_name(field: str) -> str:
    return "-" + _OPTIONS[field].flags[0]


def flags_line(options: Options) -> str:
    """The given options as Pika flags, so a user can copy them into a new prompt (parse_flags reads it)."""
    parts = []
    for name in _OPTIONS:
        value = getattr(options, name)
        if value is None or value == "" or value is False:
            continue
        if value is True:
            parts.append(_flag_name(name))
            continue
        if name in _RUNS:
            value = '"' + value.replace('"', "'").replace("`", "'") + '"'  # shown inside a code span
        parts.append(f"{_flag_name(name)} {value:g}" if isinstance(value, float) else f"{_flag_name(name)} {value}")
    return " ".join(parts)


# A quoted value ("…", “…”, '…', and other languages' quotes: «…», „…“, 「…」, 『…』) that starts and ends at a word
# boundary, or any other run of non-spaces.
_QUOTED = r""""([^"]*)"|“([^”]*)”|'([^']*)'|«\s?([^»]*?)\s?»|„([^“”]*)[“”]|「([^」]*)」|『([^』]*)』"""
_TOKEN = re.compile(rf"(?<!\S)(?:{_QUOTED})(?!\S)|\S+")
# A flag: a dash and its name. Phones turn "--" into a dash (—, –); a Japanese input method types "-" as "ー",
# and other keyboards give a minus sign or a hyphen: those are read as a flag only before a known flag's name.
_FLAG = re.compile(r"(?:--?|—|–|(?P<loose>[ー−‐]))(?P<name>[A-Za-z][A-Za-z_]*)")
_JOINED = re.compile(r"(?<!\S)((?:--?|—|–|[ー−‐])[A-Za-z][A-Za-z_]*)=")  # a flag joined to its value by "="


def _plain(token: str) -> str:
    """A flag or its value as typed with a CJK input method in full-width mode ("－ｍｏｔｉｏｎ　３", "16：9"),
    in ASCII (NFKC); prompt words are kept as typed."""
    return unicodedata.normalize("NFKC", token).replace("×", "x")


def _flag(token: str) -> re.Match[str] | None:
    flag = _FLAG.fullmatch(_plain(token))
    return None if flag is None or (flag["loose"] and flag["name"].lower() not in FLAGS) else flag


def parse_flags(text: str) -> Options:
    """Split Pika-style flags out of `text`; the words that are not flags become the prompt. Every problem
    (up to MOST_PROBLEMS) is told at once, so that a user fixes them in one go."""
    tokens: list[tuple[str, bool]] = []  # (text, was quoted)
    typed: list[str] = []  # each token as typed, quotes and all: what the prompt keeps
    for match in _TOKEN.finditer(_JOINED.sub(r"\1 ", text)):  # "-motion=3" (a command-line habit): "-motion 3"
        quoted = next((group for group in match.groups() if group is not None), None)
        tokens.append((quoted, True) if quoted is not None else (match.group(0), False))
        typed.append(match.group(0))

    values: dict[str, Any] = {}
    prompt: list[str] = []
    problems: list[OptionError] = []
    unknown: list[str] = []  # told together, where the first was typed
    unknown_at = 0
    i = 0
    while i < len(tokens):
        token, quoted = tokens[i]
        flag = None if quoted else _flag(token)
        if flag is None:
            prompt.append(typed[i])
            i += 1
            continue
        name = flag["name"].lower()
        if name in FLAGS:
            try:
                i = _take(name, tokens, i + 1, values)
                continue
            except OptionError as exc:
                problems.append(exc)
        else:
            unknown_at = unknown_at if unknown else len(problems)
            unknown.append(token[:40].replace("`", "'"))
        i = _next_flag(tokens, i + 1)  # what follows a problem up to the next flag was its value
    if unknown:
        problems.insert(unknown_at, _unknown(unknown))
    try:
        options = Options(prompt=_PROMPT("prompt", " ".join(prompt)), **values)
    except OptionError as exc:
        problems.append(exc)
    if problems:
        raise OptionError.together(problems)
    return options


def _next_flag(tokens: list[tuple[str, bool]], i: int) -> int:
    """Where the next flag is in `tokens`, from `i` on (their end if none)."""
    while i < len(tokens) and (tokens[i][1] or not _flag(tokens[i][0])):
        i += 1
    return i


def _unknown(flags: list[str]) -> OptionError:
    """The flags typed that are not flags, and those there are."""
    known = ", ".join(f"-{known}" for known in FLAGS)
    if len(flags) == 1:
        return OptionError(
            flags[0], flags[0], "", _("unknown flag `{flag}`; known flags: {known}", flag=flags[0], known=known)
        )
    named = ", ".join(f"`{flag}`" for flag in flags[:MOST_PROBLEMS]) + (", …" if len(flags) > MOST_PROBLEMS else "")
    return OptionError(
        flags[0], flags[0], "", _("unknown flags {flags}; known flags: {known}", flags=named, known=known)
    )


def _take(name: str, tokens: list[tuple[str, bool]], i: int, values: dict[str, Any]) -> int:
    """Read flag `name` and its value from `tokens[i:]` into `values`; where the next token is."""
    field = FLAGS[name]
    shown = "-" + name
    if field in values:
        raise OptionError(shown, shown, "", _("`{flag}` is given twice", flag=shown))
    rest = tokens[i:]
    if _OPTIONS[field].switch:
        values[field] = True
        return i
    if field == "camera" and rest and not rest[0][1]:
        words, owner = [], []  # camera words, split at hyphens ("zoom-in"), and the token each came from
        for index, (word, was_quoted) in enumerate(rest[:3]):
            if was_quoted or _flag(word):
                break
            parts = [part for part in _plain(word).replace("_", "-").split("-") if part]
            words += parts
            owner += [index] * len(parts)
        camera, used = camera_prefix(words)
        if camera is None or (used < len(words) and owner[used] == owner[used - 1]):
            raise OptionError(shown, " ".join(words) or NOTHING, CAMERA_HELP)
        values[field], i = camera, i + owner[used - 1] + 1
        following = [
            part
            for word, was_quoted in tokens[i : i + 3]
            if not was_quoted
            for part in _plain(word).replace("_", "-").split("-")
            if part
        ]
        if camera and following and camera_prefix(following)[0]:  # "zoom in pan left": Pika takes one
            raise OptionError(
                shown,
                " ".join(words + following),
                "",
                _(
                    "`{flag}` takes one move at a time: zoom, pan or rotate "
                    "(a pan may combine two directions: `pan up left`)",
                    flag=shown,
                ),
            )
        return i
    if field in _RUNS and rest and not rest[0][1]:
        # Unquoted: the negative prompt (or the region) runs to the next flag.
        end = _next_flag(tokens, i)
        values[field] = _OPTIONS[field].check(shown, " ".join(token for token, _quoted in tokens[i:end]))
        return end
    if not rest or (not rest[0][1] and _flag(rest[0][0])):
        raise OptionError(shown, NOTHING, "", _("`{flag}` needs a value", flag=shown))
    values[field] = _OPTIONS[field].check(shown, _plain(rest[0][0]))
    return i + 1


# The options a user may keep as their own defaults (/preferences), in the order they are tried on a request:
# a model first, as the others may need it. The rest belong to one request (a seed, a region, a length).
PREFERABLE = (
    "model", "motion", "camera", "fps", "guidance", "aspect", "negative_prompt",
    "fast", "gif", "loop", "style", "upscale",
)  # fmt: skip


def preferable_flags() -> list[str]:
    """How the PREFERABLE options are written: "-model", "-motion", … "-gs", "-ar", …"""
    return [_flag_name(name) for name in PREFERABLE]


def preferences_of(text: str) -> Options:
    """A user's default flags (/preferences): flags only, of the PREFERABLE options."""
    options = parse_flags(text)
    if options.prompt.strip():
        words = options.prompt[:40].replace("`", "'")  # shown in a code span
        raise OptionError(
            "flags", words, "", _("preferences are flags only (`-ar 9:16 -gif`), not `{words}`", words=words)
        )
    given = [name for name in _OPTIONS if getattr(options, name) is not None]
    if other := [name for name in given if name not in PREFERABLE]:
        flag, takes = _flag_name(other[0]), " ".join(preferable_flags())
        raise OptionError(
            flag, flag, "", _("`{flag}` is for one request; preferences take {takes}", flag=flag, takes=takes)
        )
    return options


def segments_of(prompt: str) -> list[str]:
    """The prompts of a prompt-travel prompt ("a | b" -> ["a", "b"]); one prompt is one segment."""
    return [part.strip() for part in prompt.split(SEGMENTS.strip())] if SEGMENTS in prompt else [prompt]


def from_command(text: str = "", **typed: object) -> Options:
    """Options from a command: Pika flags inside `text`, overridden by typed values (None = not given)."""
    given = {name: value for name, value in typed.items() if value is not None}
    unknown = set(given) - set(_OPTIONS)
    if unknown:
        raise TypeError(f"unknown options: {sorted(unknown)}")
    checked = {name: _OPTIONS[name].check(_flag_name(name), value) for name, value in given.items()}
    return Options(**checked).over(parse_flags(text))
