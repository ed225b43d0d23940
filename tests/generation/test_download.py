from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub.errors import GatedRepoError

from generation.download import DownloadError, fetch_models, sources
from generation.registry import DEFAULT_MODELS
from generation.weights import in_repository

ROOT = Path(__file__).resolve().parents[2]


def test_each_model_lists_every_repository_it_loads() -> None:
    repos = {f.repo for f in sources(DEFAULT_MODELS["animatediff"])}
    lora = "guoyww/animatediff-motion-lora-"
    expected = {"emilianJR/epiCRealism", "guoyww/animatediff-motion-adapter-v1-5-2", lora + "zoom-in", lora + "tilt-up"}
    assert expected <= repos
    lightning = {f.repo: f.patterns for f in sources(DEFAULT_MODELS["animatediff-lightning"])}
    assert lightning["ByteDance/AnimateDiff-Lightning"] == ("animatediff_lightning_4step_diffusers.safetensors",)
    svd = sources(DEFAULT_MODELS["svd-xt"])[0]
    assert "*/*.fp16.safetensors" in (svd.patterns or ()), "the half-precision files only"
    assert "*.safetensors" not in (svd.patterns or ()) and "*/*.safetensors" not in (svd.patterns or ())


def test_the_illusion_controlnet_is_fetched_from_its_folder_of_the_repository(tmp_path: Path) -> None:
    fetched = {f.repo: f.patterns for f in sources(DEFAULT_MODELS["animatediff"])}
    assert fetched["monster-labs/control_v1p_sd15_qrcode_monster"] == ("v2/*.json", "v2/*.safetensors")
    assert in_repository("monster-labs/control_v1p_sd15_qrcode_monster/v2") == (
        "monster-labs/control_v1p_sd15_qrcode_monster",
        "v2",
    )
    assert in_repository("owner/name") == ("owner/name", None)
    for folder in (str(tmp_path), "/models/no/such/folder", "./models/controlnet"):
        assert in_repository(folder) == (folder, None), "a folder here, never a hub id"


def test_ltx_fetches_only_the_diffusers_folders_and_the_upsampler() -> None:
    weights, upsampler = sources(DEFAULT_MODELS["ltx"])
    assert weights.repo == "Lightricks/LTX-Video-0.9.7-distilled"
    assert "*/*.model" in (weights.patterns or ()), "the T5 tokenizer's spiece.model"
    assert not any(p.startswith("*.") for p in weights.patterns or ()), "not the original checkpoints at the top"
    assert upsampler.repo == "Lightricks/ltxv-spatial-upscaler-0.9.7"
    assert all(p.startswith("latent_upsampler/") for p in upsampler.patterns or ()), "not its copy of the VAE"


def test_downloads_each_repository_once() -> None:
    calls: list[str] = []
    fetch_models(
        [DEFAULT_MODELS["svd-xt"], DEFAULT_MODELS["t2i-svd"]],
        lambda repo, **_: calls.append(repo),
        report=lambda _: None,
    )
    assert calls == ["stabilityai/stable-video-diffusion-img2vid-xt", "stabilityai/sdxl-turbo"]


def test_a_gated_model_explains_how_to_set_a_token() -> None:
    def gated(repo: str, **_: object) -> None:
        error = GatedRepoError.__new__(GatedRepoError)  # as huggingface_hub raises it for a 403 on a gated repo
        Exception.__init__(error, "403 gated")
        raise error

    with pytest.raises(DownloadError, match=r"accept its terms.*HF_TOKEN"):
        fetch_models([DEFAULT_MODELS["svd"]], gated, report=lambda _: None)


def test_download_command_skips_local_folders_and_fails_clearly_offline(tiny_models: dict[str, str]) -> None:
    env = os.environ | tiny_models | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    local = subprocess.run(
        [sys.executable, "-m", "generation", "download", "svd-xt"], env=env, capture_output=True, text=True, timeout=120
    )
    assert local.returncode == 0 and "local folders" in local.stdout and "in the cache" not in local.stdout
    env["MOTIONBOT_SVD_XT__WEIGHTS"] = "stabilityai/stable-video-diffusion-img2vid-xt"
    hub = subprocess.run(
        [sys.executable, "-m", "generation", "download", "svd-xt"], env=env, capture_output=True, text=True, timeout=120
    )
    assert hub.returncode == 1 and "could not download stabilityai/stable-video-diffusion-img2vid-xt" in hub.stderr
    assert "Traceback" not in hub.stderr


def test_wan_fetches_only_what_its_pipelines_load() -> None:
    """Matched as the hub matches allow_patterns (fnmatch) against the files such a repository holds."""
    import fnmatch

    listing = [
        "model_index.json",
        "README.md",
        "assets/logo.png",
        "examples/i2v_input.JPG",
        "Wan2.2_VAE.pth",  # the original checkpoints some Wan repositories keep at the top
        "models_t5_umt5-xxl-enc-bf16.pth",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model.safetensors.index.json",
        "tokenizer/spiece.model",
        "tokenizer/tokenizer.json",
        "tokenizer/tokenizer_config.json",
        "transformer/config.json",
        "transformer/diffusion_pytorch_model-00001-of-00003.safetensors",
        "transformer/diffusion_pytorch_model.safetensors.index.json",
        "transformer_2/config.json",
        "transformer_2/diffusion_pytorch_model-00001-of-00003.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    fetched: dict[str, list[str]] = {}

    def download(repo: str, allow_patterns: list[str] | None = None) -> None:
        wanted = allow_patterns or ["*"]
        fetched[repo] = [name for name in listing if any(fnmatch.fnmatch(name, p) for p in wanted)]

    fetch_models([DEFAULT_MODELS["wan"], DEFAULT_MODELS["wan-i2v"]], download, report=lambda _: None)
    assert set(fetched) == {"Wan-AI/Wan2.2-TI2V-5B-Diffusers", "Wan-AI/Wan2.2-I2V-A14B-Diffusers"}
    for files in fetched.values():
        assert "model_index.json" in files and "tokenizer/spiece.model" in files
        assert "transformer_2/diffusion_pytorch_model-00001-of-00003.safetensors" in files, "both experts"
        assert not [name for name in files if name.endswith((".pth", ".png", ".JPG", ".md"))], files


def test_the_region_segmenter_is_downloaded_with_the_models_unless_it_is_a_folder(tmp_path: Path) -> None:
    from generation.download import segmenter

    [fetch] = segmenter("CIDAS/clipseg-rd64-refined")
    assert fetch.repo == "CIDAS/clipseg-rd64-refined" and "*.safetensors" in (fetch.patterns or ())
    assert segmenter(str(tmp_path)) == [] and segmenter("") == []


def test_the_prompt_translators_are_downloaded_once_each_unless_they_are_folders(tmp_path: Path) -> None:
    from generation.download import translators
    from generation.settings import GenerationSettings

    sources = GenerationSettings().translators
    fetched = translators([*sources.values(), sources["zh"], str(tmp_path), ""])
    assert [fetch.repo for fetch in fetched] == list(dict.fromkeys(sources.values()))
    assert all({"*.spm", "*.json"} <= set(fetch.patterns or ()) for fetch in fetched), "the tokenizer's files too"
