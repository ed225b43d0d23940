"""The prompt check: normalising, whole words, categories under each policy, a server's words and patterns."""

from __future__ import annotations

import time

import pytest

from generation.blocklist import BlockList, PatternError, Policy, check_term, normalise

BUILT_IN = BlockList.built_in()


def refused(prompt: str, policy: Policy = Policy.STRICT, nsfw: bool = False, own: tuple[str, ...] = ()) -> str | None:
    verdict = BUILT_IN.check(prompt, policy, nsfw, own)
    return str(verdict.rule) if verdict else None


@pytest.mark.parametrize(
    "prompt",
    [
        *("a nude woman", "a NÚDE woman", "a nud3 woman", "a n u d e woman", "a n.u.d.e woman", "nuuude", "NuDeS"),
        *("a nu\u200bde woman", "a nu\xadde woman", "a nu\u2060de woman", "a ｎｕｄｅ woman"),  # what shows nothing
        *("a nudе woman", "a ΝUDΕ woman", "ѕех"),  # Cyrillic and Greek letters that look Latin
    ],
)
def test_spellings_of_a_blocked_word_are_refused(prompt: str) -> None:
    assert refused(prompt) is not None


@pytest.mark.parametrize("prompt", ["the Essex coast", "a rooster crows at dawn", "a cat in a box", "a b c"])
def test_words_that_only_contain_a_blocked_word_pass(prompt: str) -> None:
    assert refused(prompt) is None


@pytest.mark.parametrize(
    "prompt",
    [
        "x marks the spot on the map",  # not `xxx`
        "tic tac toe: x o x",
        "a bobcat on a bobsled",  # not `boob*`
        "a child with a lollipop",  # not `loli`
        "a field of rapeseed in bloom",  # not `rape`
        "a pedometer on a wrist",  # not `pedo`
        "snuff out the candle",
        "nudge the ball into the hole",
        "falling into a bottomless pit",
    ],
)
def test_everyday_words_near_a_blocked_one_pass(prompt: str) -> None:
    assert refused(prompt) is None


def test_a_letter_typed_fewer_times_than_the_term_has_it_is_another_word() -> None:
    assert refused("xxx") and refused("XXXX") and refused("x x x"), "more often is the same word"
    assert refused("a sexy teeen", Policy.OFF) is not None, "sexual with a word for children"
    assert refused("a sexy tentacle monster", Policy.OFF) is None, "`ten` in `tentacle` is not `teen`"


def test_normalising_reads_leetspeak_accents_and_spelled_out_letters() -> None:
    assert normalise("Ünïcödé  S3X!!  s . e . x") == "unicode sex sex"
    assert normalise("сlown ѕех привет") == "clown sex", "a word wholly Latin-looking is read as Latin, no other"


def test_each_policy_decides_where_sexual_words_may_go() -> None:
    assert refused("a nude woman", Policy.STRICT, nsfw=True) is not None
    assert refused("a nude woman", Policy.AGE_RESTRICTED, nsfw=True) is None
    assert "not age-restricted" in (refused("a nude woman", Policy.AGE_RESTRICTED, nsfw=False) or "")
    assert refused("a nude woman", Policy.OFF) is None


def test_what_is_never_allowed_is_refused_under_every_policy() -> None:
    for policy in Policy:
        assert "never allowed" in (refused("a l0li", policy, nsfw=True) or "")
        assert "minors" in (refused("a sexy teen", policy, nsfw=True) or "")
    assert refused("a teen skateboarding", Policy.STRICT) is None, "a word for children alone is fine"


def test_a_negative_prompt_may_name_what_to_keep_out_but_not_what_is_never_allowed() -> None:
    for policy in Policy:
        for prompt in ("a child flies a kite", "a woman on a beach"):
            assert BUILT_IN.check(prompt, policy, False, negative="nsfw, nude, naked, child, teen") is None, prompt
        assert BUILT_IN.check("a cat", policy, False, negative="a l0li") is not None
        assert BUILT_IN.check("a cat", policy, False, ("clown*",), negative="clowns") is not None
    assert BUILT_IN.check("a nude woman", Policy.OFF, False, negative="child") is None, "the negative keeps kids out"


def test_a_servers_words_and_patterns_apply_under_every_policy() -> None:
    for policy in Policy:
        assert refused("three CL0WNS", policy, own=("clown*",)) == "this server's block list"
        assert refused("a c l o w n", policy, own=("clown",)) == "this server's block list"
        assert refused("a clownfish reef", policy, own=("/clowns?\\b/",)) is None
        assert refused("two clowns", policy, own=("/clowns?\\b/",)) == "this server's block list"
        assert refused("red balloons", policy, own=("/balloons?/",)) == "this server's block list", "letters as typed"
    # A pattern no admin could add (each is compiled then) in a job altered on its way to the worker: no match.
    assert refused("two clowns", Policy.STRICT, own=("/clowns(/", "clown*")) == "this server's block list"
    assert refused("two clowns", Policy.STRICT, own=("/clowns(/",)) is None


@pytest.mark.parametrize("pattern", ["/(a+)+$/", "/(a|aa)*b/", "/(x*y)+/", "/(?:a{2,})*/"])
def test_patterns_that_can_backtrack_without_end_are_refused_when_added(pattern: str) -> None:
    with pytest.raises(PatternError, match="repeats a repetition"):
        check_term(pattern)


@pytest.mark.parametrize(("term", "message"), [("/[/", "not a valid pattern"), ("x" * 101, "1–100"), ("!!", "letters")])
def test_unusable_terms_say_why(term: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        check_term(term)


def test_a_slow_pattern_cannot_hang_the_check() -> None:
    slow = check_term("/" + "[a-z]*" * 14 + "[xyz]/")  # no nesting, but polynomial on a long word without x, y, z
    started = time.monotonic()
    assert refused("ab" * 450, own=(slow,)) == "this server's block list", "undecided in time: refused"
    assert time.monotonic() - started < 2
