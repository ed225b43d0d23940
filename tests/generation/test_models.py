"""The registry is data: every row is complete, and every family in it has a runner and a tiny builder."""

from __future__ import annotations

import pytest

from generation.jobs import JobKind
from generation.models import Input, ModelSpec
from generation.pipelines import RUNNERS
from generation.random_models import BUILDERS
from generation.registry import DEFAULT_MODELS


@pytest.mark.parametrize("spec", DEFAULT_MODELS.values(), ids=list(DEFAULT_MODELS))
def test_every_row_is_complete(spec: ModelSpec) -> None:
    assert spec.inputs and spec.licence and spec.memory_gb > 0 and spec.cost_factor > 0
    assert 2 <= spec.frames <= spec.max_frames and 1 <= spec.steps <= spec.max_steps
    assert spec.max_total_frames(24) >= spec.max_frames


def test_every_family_in_the_registry_has_a_runner_and_a_tiny_builder() -> None:
    families = {spec.family for spec in DEFAULT_MODELS.values()}
    assert families <= set(RUNNERS), "a family without a pipeline module"
    assert families <= set(BUILDERS), "a family without a random-weight builder for the tests"


def test_what_a_model_takes_follows_its_row() -> None:
    svd, animatediff = DEFAULT_MODELS["svd-xt"], DEFAULT_MODELS["animatediff"]
    assert svd.takes(JobKind.IMAGE_TO_VIDEO) and not svd.takes(JobKind.TEXT_TO_VIDEO) and svd.takes(JobKind.EXTEND)
    assert animatediff.inputs == (Input.TEXT,) and not animatediff.takes(JobKind.EXTEND)
    assert all(spec.takes(JobKind.SMOOTH) for spec in DEFAULT_MODELS.values())


def test_svd_rows_load_the_half_precision_files(tiny_models: dict[str, str]) -> None:
    from pathlib import Path

    from diffusers import StableVideoDiffusionPipeline

    assert {DEFAULT_MODELS[name].variant for name in ("svd", "svd-xt", "t2i-svd")} == {"fp16"}
    folder = Path(tiny_models["MOTIONBOT_SVD_XT__WEIGHTS"])
    weights = sorted(path.name for path in folder.glob("*/*.safetensors"))
    assert weights and all(name.endswith(".fp16.safetensors") for name in weights), "the tiny folder has only those"
    with pytest.raises((OSError, ValueError)):  # so a row that lost its variant could not load it
        StableVideoDiffusionPipeline.from_pretrained(folder)
