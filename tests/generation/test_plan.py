"""Which workers can fit a job: the registry's memory estimate against what the online workers advertise."""

from __future__ import annotations

from generation.jobs import JobKind, VideoJob
from generation.models import DEFAULT_MODELS
from generation.plan import memory_needed, resolve, unfit
from generation.values import Aspect

SVD_XT = DEFAULT_MODELS["svd-xt"]


def plan(aspect: Aspect = Aspect.WIDE, frames: int | None = None):  # type: ignore[no-untyped-def]
    return resolve(VideoJob("m", JobKind.IMAGE_TO_VIDEO, "svd-xt", aspect=aspect, frames=frames), SVD_XT)


def test_a_native_clip_needs_the_registry_estimate_and_a_smaller_one_less() -> None:
    assert memory_needed(SVD_XT, plan(), "balanced") == SVD_XT.memory_gb
    assert memory_needed(SVD_XT, plan(frames=5), "balanced") < SVD_XT.memory_gb
    assert memory_needed(SVD_XT, plan(), "low") < memory_needed(SVD_XT, plan(), "balanced")


def test_a_job_no_online_gpu_can_fit_is_refused_with_what_to_change() -> None:
    refusal = unfit(SVD_XT, plan(), [(8.0, "balanced"), (6.0, "full")])
    assert refusal is not None and "needs about 14 GB" in refusal and "largest GPU online has 8 GB" in refusal
    assert "-ar 1:1" in refusal and "-frames" in refusal


def test_one_worker_that_fits_is_enough() -> None:
    assert unfit(SVD_XT, plan(), [(8.0, "balanced"), (24.0, "balanced")]) is None
    assert unfit(SVD_XT, plan(), [(8.0, "low")]) is None, "offloading to the CPU fits a small card"
    assert unfit(SVD_XT, plan(), [(0.0, "balanced")]) is None, "a CPU or dry-run worker has no GPU limit"
