"""Random models for every registry row, saved like hub folders (`save_pretrained`), so that they load
through the same code as real weights; `write_models` returns the environment settings that point the
registry at them. The builders are `random_weights`, `random_wan` and `random_helpers`. Nothing here
touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import AnimateDiffPipeline
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

from generation.flow import write_flow
from generation.models import MOTION_LORAS, Family, Input, ModelSpec
from generation.random_helpers import write_pose_estimator, write_safety_checker, write_segmenter, write_translator
from generation.random_wan import build_wan, build_wan_animate, build_wan_i2v, build_wan_vace
from generation.random_weights import (
    Size,
    build_animatediff,
    build_illusion_controlnet,
    build_ltx,
    build_ltx_upsampler,
    build_motion_adapter,
    build_sd,
    build_svd,
)
from generation.registry import DEFAULT_MODELS
from generation.settings import GenerationSettings

__all__ = ["BUILDERS", "write_models"]


def _write_motion_lora(pipe: AnimateDiffPipeline, folder: Path, seed: int) -> None:
    """A random LoRA on the motion modules' attention, saved in diffusers' LoRA format."""
    torch.manual_seed(seed)
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        target_modules=r".*motion_modules.*\.(to_q|to_k|to_v|to_out\.0)",
        init_lora_weights=False,  # random B: the LoRA visibly changes the output
    )
    pipe.unet.add_adapter(config, adapter_name="new")
    layers = get_peft_model_state_dict(pipe.unet, adapter_name="new")
    AnimateDiffPipeline.save_lora_weights(folder, unet_lora_layers=layers)
    pipe.unet.delete_adapters("new")


class _Folders:
    """Where the random models go; a folder several registry rows share is written once per call."""

    def __init__(self, root: Path, size: Size, seed: int):
        self.root, self.size, self.seed = root, size, seed
        self._written: set[str] = set()

    def once(self, name: str, save: Callable[[Path], None]) -> Path:
        folder = self.root / name
        if name not in self._written:
            save(folder)
            self._written.add(name)
        return folder


def _save(pipe: Any, folder: Path, variants: tuple[str | None, ...]) -> None:
    """Save like a hub folder, once per weight variant the registry rows load (None: the plain files)."""
    for variant in variants:
        pipe.save_pretrained(folder, variant=variant)


def _svd(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    def save(folder: Path) -> None:  # only fp16 files, as the SVD rows load them
        _save(build_svd(out.size, out.seed), folder, ("fp16",))

    return {"weights": out.once("svd", save)}


def _sd15(out: _Folders) -> Path:
    # t2i-svd loads the fp16 variant, AnimateDiff the plain files.
    return out.once("sd15", lambda folder: _save(build_sd(out.size, out.seed), folder, (None, "fp16")))


def _t2i_svd(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    return _svd(spec, out) | {"t2i_weights": _sd15(out)}


def _loras(folder: Path, size: Size, seed: int) -> None:
    animatediff = build_animatediff(size, seed)
    for index, move in enumerate(MOTION_LORAS):
        _write_motion_lora(animatediff, folder / move, seed + 100 + index)


def _animatediff(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    paths = {
        "weights": _sd15(out),
        "adapter": out.once("motion-adapter", lambda f: build_motion_adapter(out.size, out.seed).save_pretrained(f)),
        "lora": out.once("loras", lambda folder: _loras(folder, out.size, out.seed)) / "{move}",
    }
    if spec.illusion_weights is not None:
        paths["illusion_weights"] = out.once(
            "illusion-controlnet", lambda folder: build_illusion_controlnet(out.size, out.seed).save_pretrained(folder)
        )
    if spec.adapter_file is not None:  # Lightning: bare weights in one file, the config from the regular adapter
        file = spec.adapter_file

        def save_single_file(folder: Path) -> None:
            folder.mkdir(parents=True, exist_ok=True)
            save_file(build_motion_adapter(out.size, out.seed + 1).state_dict(), folder / file)

        paths |= {"adapter": out.once("lightning", save_single_file), "adapter_config": paths["adapter"]}
    return paths


def _ltx(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    return {
        "weights": out.once("ltx", lambda folder: build_ltx(out.size, out.seed).save_pretrained(folder)),
        "upsampler": out.once("ltx-upsampler", lambda f: build_ltx_upsampler(out.size, out.seed).save_pretrained(f)),
    }


def _wan(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    if spec.poses:
        return {
            "weights": out.once("wan-animate", lambda f: build_wan_animate(out.size, out.seed).save_pretrained(f)),
            "pose_weights": out.once("vitpose", lambda f: write_pose_estimator(f, out.seed)),
        }
    if spec.control:
        return {"weights": out.once("wan-vace", lambda f: build_wan_vace(out.size, out.seed).save_pretrained(f))}
    if Input.TEXT in spec.inputs:
        return {"weights": out.once("wan", lambda folder: build_wan(out.size, out.seed).save_pretrained(folder))}
    return {"weights": out.once("wan-i2v", lambda folder: build_wan_i2v(out.size, out.seed).save_pretrained(folder))}


# One builder per family: it writes the row's random weights and says which registry fields point at them.
BUILDERS: dict[Family, Callable[[ModelSpec, _Folders], dict[str, Path]]] = {
    Family.SVD: _svd,
    Family.ANIMATEDIFF: _animatediff,
    Family.T2I_SVD: _t2i_svd,
    Family.LTX: _ltx,
    Family.WAN: _wan,
}
_TINY = {"width": 64, "height": 64, "size_multiple": 16, "frames": 4, "max_frames": 8, "steps": 2, "max_steps": 4}
# LTX keeps its 32x / 8x size rules and a distilled row its own schedule (a tiny step costs milliseconds).
_TINY_LTX = {"width": 64, "height": 64, "frames": 17, "max_frames": 33, "max_duration_s": 3.0}
_TINY_WAN = _TINY | {"size_multiple": 32, "frames": 9, "max_frames": 17, "max_duration_s": 2.0}


def write_models(
    root: Path, size: Size = "tiny", seed: int = 0, models: Mapping[str, ModelSpec] = DEFAULT_MODELS
) -> dict[str, str]:
    """Save random models for every registry row under `root`; return the env settings that use them."""
    out = _Folders(Path(root).resolve(), size, seed)  # absolute: the settings work from any folder
    settings: dict[str, str] = {}
    for name, spec in models.items():
        fields: dict[str, object] = dict(BUILDERS[spec.family](spec, out))
        if size == "tiny" and spec.family is Family.LTX:
            fields |= _TINY_LTX | ({} if spec.timesteps else {"steps": 2, "max_steps": 4})
        elif size == "tiny" and spec.family is Family.WAN:
            fields |= _TINY_WAN
        elif size == "tiny":  # small clips, few steps: a CPU renders one in about a second
            fields |= _TINY
        prefix = f"MOTIONBOT_{name.replace('-', '_').upper()}__"
        settings |= {prefix + field.upper(): str(value) for field, value in fields.items()}
    # Random weights score at random: a threshold no score reaches flags nothing (tests lower it to flag all).
    settings |= {"MOTIONBOT_SAFETY_CHECKER": str(out.once("safety-checker", write_safety_checker))}
    settings |= {"MOTIONBOT_SAFETY_THRESHOLD": "1000"}
    settings |= {"MOTIONBOT_SEGMENTER": str(out.once("segmenter", write_segmenter))}
    # Every language the defaults name, or a .env's hub ids would be merged in under these (pydantic-settings
    # merges a JSON map from the environment into the one from .env).
    translator = str(out.once("translator", write_translator))
    languages = [*GenerationSettings.model_fields["translators"].default, "*"]
    settings |= {"MOTIONBOT_TRANSLATORS": json.dumps(dict.fromkeys(languages, translator))}
    # Smooth's flow model (used where MOTIONBOT_SMOOTH is flow, or auto on a GPU): the small RAFT at tiny size.
    raft = "raft_small" if size == "tiny" else "raft_large"
    settings |= {"MOTIONBOT_SMOOTH_FLOW": raft}
    settings |= {
        "MOTIONBOT_SMOOTH_WEIGHTS": str(
            out.once("flow", lambda f: write_flow(f, raft, out.seed)) / f"{raft}.safetensors"
        )
    }
    (out.root / "motionbot.env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return settings
