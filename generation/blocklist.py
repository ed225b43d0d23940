"""Prompt checks against the built-in block list (`generation/data/blocklist.txt`) and a server's own words and
patterns, under the server's content policy (torch-free, no Discord).

Text is normalised before matching: case and accents folded, invisible characters (a zero-width space or a
soft hyphen inside a word) dropped, Cyrillic and Greek letters that look like Latin ones read as those
(`ѕех` -> `sex`), leetspeak read as letters (`s3x` -> `sex`), single letters with spaces or dots between them
joined (`s e x`, `s.e.x` -> `sex`), on the prompt and the terms alike. A letter may be typed more often than
the term has it (`nuuude` matches `nude`), never less: `xxx` does not match the letter `x`, `boob` not `bob`,
`teen` not `ten`. Inside a word spelled out letter by letter a term matches anywhere (`a n u d e`). A server
pattern (`/regex/`) runs on the normalised text (lower-case letters, single spaces) with a time limit, after
a check when an admin adds it that refuses nested repeats, the shape that backtracks without end.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from generation.text import Said, Text, _

__all__ = [
    "MAX_TERMS",
    "BlockList",
    "PatternError",
    "Policy",
    "Verdict",
    "check_term",
    "normalise",
]

MAX_TERMS = 200  # a server's own words and patterns
_MAX_TERM = 100  # characters of one
_TIMEOUT_S = 0.05  # one pattern on one prompt
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
# Letters of other scripts that look like Latin ones (after accents are taken off, before case is folded: a
# capital and a small letter may look like different Latin letters), read as those in a word they turn wholly
# Latin (`ѕех`, `сlown`; a Russian word stays Russian); and the letter-like characters that show nothing
# (Hangul fillers, the combining grapheme joiner), besides the invisible format characters (Cf).
_LOOKALIKE = str.maketrans(
    dict(zip("АВСЕНІЈКМОРЅТХУҮаԁеһіјӏорԛѕсухԝүквнмт", "ABCEHIJKMOPSTXYYadehijlopqscyxwykbhmt", strict=True))
    | dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαεικνοτυχϲϳıɑɡ", "ABEZHIKMNOPTYXaeikvotuxcjiag", strict=True))
    | dict.fromkeys(map(ord, "\u115f\u1160\u3164\uffa0\u034f"))
)


class Policy(enum.StrEnum):
    STRICT = "strict"  # no sexual content anywhere
    AGE_RESTRICTED = "age-restricted"  # sexual content only in age-restricted channels, posted as spoilers
    OFF = "off"  # the server takes responsibility: only the `always` list and its own terms apply


class PatternError(Said, ValueError):
    """A word or pattern an admin gave cannot be used; the message says why."""


@dataclass(frozen=True)
class Verdict:
    """Why a prompt is refused: `rule` is said to the user and logged; `term` (what matched) only logged."""

    rule: Text  # its English is what the moderation ledger keeps
    term: str
    read_as: str = ""  # the prompt as the check read it, where that is not as written (translated to English)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.to_dict(), "term": self.term, "read_as": self.read_as}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        said = data.get("rule")
        rule = Text.from_dict(said if isinstance(said, Mapping) else {})
        return cls(rule, str(data.get("term", "")), str(data.get("read_as", "")))


def normalise(text: str) -> str:
    """Lower-case words of letters only, as the block list compares them."""
    return " ".join(_words(text)[0])


def _words(text: str) -> tuple[list[str], list[str]]:
    """The normalised words, and those of them that were spelled out letter by letter ("s e x")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char) and unicodedata.category(char) != "Cf")
    text = re.sub(r"\w+", _as_latin, text).casefold().translate(_LEET)
    words, spelled, letters = [], [], []
    for word in [*re.findall(r"[a-z]+", text), ""]:  # "s e x" and "s.e.x": letters standing alone are one word
        if len(word) == 1:
            letters.append(word)
            continue
        if letters:
            words.append("".join(letters))
            if len(letters) >= 3:
                spelled.append(words[-1])
            letters = []
        if word:
            words.append(word)
    return words, spelled


def _as_latin(word: re.Match[str]) -> str:
    latin = word[0].translate(_LOOKALIKE)
    return latin if latin.isascii() else word[0]


def _runs(stem: str) -> str:
    """A pattern for `stem` in which each letter may be typed more often than written (`teen`: `t+e{2,}n+`)."""
    return "".join(
        " " if run[0] == " " else re.escape(run[0]) + ("+" if len(run) == 1 else f"{{{len(run)},}}")
        for run in (match[0] for match in re.finditer(r"(.)\1*", stem))
    )


def _is_pattern(term: str) -> bool:
    return term.startswith("/") and term.endswith("/") and len(term) > 2


@dataclass(frozen=True)
class _Term:
    """A word of a list, normalised once: whole words, a trailing * matching any ending."""

    category: str
    text: str
    pattern: re.Pattern[str]  # whole words
    inside: re.Pattern[str]  # without spaces: what a word spelled out letter by letter may hold

    @classmethod
    def of(cls, category: str, text: str) -> _Term:
        stem = normalise(text.rstrip("*"))
        ending = r"[a-z]*" if text.endswith("*") else ""
        pattern = re.compile(rf"(?<![a-z]){_runs(stem)}{ending}(?![a-z])")
        return cls(category, text, pattern, re.compile(_runs(stem.replace(" ", ""))))

    def found(self, text: str, spelled: list[str]) -> bool:
        return self.pattern.search(text) is not None or any(self.inside.search(word) for word in spelled)


def check_term(term: str) -> str:
    """A server's word or `/pattern/`, checked when an admin adds it; returns it as stored."""
    term = term.strip()
    if not term or len(term) > _MAX_TERM:
        raise PatternError(_("a word or pattern must be 1–{most} characters", most=_MAX_TERM))
    if not _is_pattern(term):
        if not normalise(term.rstrip("*")):
            raise PatternError(_("a word needs letters"))
        return term
    body = term[1:-1]
    try:
        regex.compile(body)
        parsed = re._parser.parse(body)  # type: ignore[attr-defined]
    except (regex.error, re.error) as exc:
        raise PatternError(_("`{term}` is not a valid pattern: {error}", term=term, error=str(exc))) from None
    if _nested_repeat(parsed, inside=False):
        raise PatternError(
            _(
                "`{term}` repeats a repetition or a choice (like `(a+)+` or `(a|b)*`), which can take forever "
                "on some prompts; write it without the nested repeat",
                term=term,
            )
        )
    return term


def _nested_repeat(parsed: object, inside: bool) -> bool:
    """Whether a repeat (`*`, `+`, `{2,}`) holds another repeat or a choice, at any depth."""
    repeats = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
    for op, value in parsed:  # type: ignore[attr-defined]
        name = str(op)
        if name in repeats:
            _, high, sub = value
            unbounded = high > 1
            if inside and unbounded:
                return True
            if _nested_repeat(sub, inside or unbounded):
                return True
        elif name == "BRANCH":
            if inside:
                return True
            if any(_nested_repeat(branch, inside) for branch in value[1]):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(value[-1], inside):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _nested_repeat(value[1], inside):
                return True
        elif name == "ATOMIC_GROUP" and _nested_repeat(value, inside):
            return True
    return False


class BlockList:
    """The built-in terms by category; `check` judges a prompt under a policy with a server's own terms."""

    def __init__(self, lines: Iterable[str]):
        terms = []
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                category, _, text = line.partition(" ")
                terms.append(_Term.of(category, text.strip()))
        self.terms = tuple(terms)

    @classmethod
    def built_in(cls) -> BlockList:
        """The list in `generation/data/blocklist.txt`."""
        return cls((Path(__file__).parent / "data" / "blocklist.txt").read_text(encoding="utf-8").splitlines())

    def _first(self, category: str, text: str, spelled: list[str]) -> str | None:
        return next((t.text for t in self.terms if t.category == category and t.found(text, spelled)), None)

    def check(
        self, prompt: str, policy: Policy, age_restricted: bool, own: Iterable[str] = (), negative: str = ""
    ) -> Verdict | None:
        """Why this prompt is refused here, or None. Its negative prompt steers away from what it names
        (`nsfw, nude, child` keeps a clip clean): only the never-allowed terms and the server's own count there."""
        words, spelled = _words(prompt)
        text = " ".join(words)
        every, every_spelled = _words(f"{prompt} \n {negative}")
        if term := self._first("always", " ".join(every), every_spelled):
            return Verdict(_("the built-in list (content that is never allowed)"), term)
        sexual = self._first("sexual", text, spelled)
        if sexual and (minor := self._first("minor", text, spelled)):
            return Verdict(_("the built-in list (sexual content with minors is never allowed)"), f"{sexual} + {minor}")
        for term in own:
            if _own_match(term, " ".join(every), every_spelled):
                return Verdict(_("this server's block list"), term)
        allowed = policy is Policy.OFF or (policy is Policy.AGE_RESTRICTED and age_restricted)
        if sexual and not allowed:
            if policy is Policy.AGE_RESTRICTED:
                return Verdict(
                    _("the built-in list (sexual content is not allowed in channels that are not age-restricted)"),
                    sexual,
                )
            return Verdict(_("the built-in list (sexual content is not allowed here)"), sexual)
        return None


def _own_match(term: str, text: str, spelled: list[str]) -> bool:
    if _is_pattern(term):
        try:
            return regex.search(term[1:-1], text, timeout=_TIMEOUT_S) is not None
        except TimeoutError:
            return True  # a pattern that cannot decide in time refuses: a prompt must not slip through by it
        except regex.error:
            return False  # not one an admin could add (each is compiled then): a job altered on the way
    return _Term.of("own", term).found(text, spelled)
