"""Pre-fetch model weights into the Hugging Face cache, so workers start without downloading."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from generation.models import MOTION_LORAS, ModelSpec
from generation.weights import in_repository

__all__ = ["DownloadError", "Fetch", "fetch_models", "safety_checker", "segmenter", "sources", "translators"]


class DownloadError(RuntimeError):
    """A download failed; the message says what to do."""


@dataclass(frozen=True)
class Fetch:
    repo: str
    patterns: tuple[str, ...] | None = None  # None: the whole repository
    label: str = ""


def _diffusers_folder(repo: str, variant: str | None, label: str) -> Fetch:
    # Only the diffusers sub-folders: these repos also hold multi-GB original checkpoints at the top
    # (tokenizers: spiece.model).
    weights = f"*/*.{variant}.safetensors" if variant else "*/*.safetensors"
    return Fetch(repo, ("model_index.json", "*/*.json", "*/*.txt", "*/*.model", weights), label)


def sources(spec: ModelSpec) -> list[Fetch]:
    """Every hub repository a model loads from (local folders are left out)."""
    fetches = [_diffusers_folder(spec.weights, spec.variant, "weights")]
    if spec.t2i_weights:
        fetches.append(_diffusers_folder(spec.t2i_weights, spec.variant, "text-to-image weights"))
    if spec.adapter:
        patterns = (spec.adapter_file,) if spec.adapter_file else None
        fetches.append(Fetch(spec.adapter, patterns, "motion adapter"))
    if spec.upsampler:  # only the upsampler: the VAE beside it is the pipeline's own
        fetches.append(
            Fetch(spec.upsampler, ("latent_upsampler/*.json", "latent_upsampler/*.safetensors"), "latent upsampler")
        )
    if spec.pose_weights:  # ViTPose: its config, processor and weights
        fetches.append(Fetch(spec.pose_weights, ("*.json", "*.safetensors"), "pose estimator"))
    if spec.illusion_weights:  # a ControlNet, often one folder of a repository that holds several
        repo, folder = in_repository(spec.illusion_weights)
        inside = f"{folder}/" if folder else ""
        fetches.append(Fetch(repo, (f"{inside}*.json", f"{inside}*.safetensors"), "illusion ControlNet"))
    if spec.adapter_config:
        fetches.append(Fetch(spec.adapter_config, ("config.json",), "motion adapter config"))
    if spec.lora:
        fetches += [Fetch(spec.lora.format(move=move), None, f"camera LoRA {move}") for move in MOTION_LORAS]
    return [f for f in fetches if not os.path.isdir(f.repo) and not os.path.isfile(f.repo)]


def safety_checker(source: str) -> list[Fetch]:
    """The worker's image classifier (its config, processor and safetensors weights), unless it is a folder."""
    if not source or os.path.isdir(source):
        return []
    return [Fetch(source, ("*.json", "*.safetensors"), "image safety checker")]


def segmenter(source: str) -> list[Fetch]:
    """CLIPSeg for `-region` (its configs, tokenizer files and safetensors weights), unless it is a folder."""
    if not source or os.path.isdir(source):
        return []
    return [Fetch(source, ("*.json", "*.txt", "*.safetensors"), "region segmenter")]


def translators(sources: Iterable[str]) -> list[Fetch]:
    """The opus-mt prompt translators (configs, SentencePiece files, weights), except folders. Older opus-mt
    repositories hold only `pytorch_model.bin`, newer ones `model.safetensors` too."""
    patterns = ("*.json", "*.spm", "*.safetensors", "pytorch_model.bin")
    unique = dict.fromkeys(source for source in sources if source and not os.path.isdir(source))
    return [Fetch(source, patterns, "prompt translator") for source in unique]


def fetch_models(
    specs: Iterable[ModelSpec],
    snapshot_download: Callable[..., Any] | None = None,
    report: Callable[[str], None] = print,
    extra: Iterable[Fetch] = (),
) -> None:
    """Download every model's repositories (with progress bars), then `extra` ones (the safety checker);
    raise DownloadError with advice."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    if snapshot_download is None:
        from huggingface_hub import snapshot_download as hub_download

        snapshot_download = hub_download
    download: Callable[..., Any] = snapshot_download
    seen: set[tuple[str, tuple[str, ...] | None]] = set()
    wanted = [(spec.name, fetch) for spec in specs for fetch in sources(spec)] + [("worker", f) for f in extra]
    for owner, fetch in wanted:
        if (fetch.repo, fetch.patterns) in seen:
            continue
        seen.add((fetch.repo, fetch.patterns))
        report(f"{owner}: {fetch.label} from {fetch.repo}")
        try:
            download(fetch.repo, allow_patterns=list(fetch.patterns) if fetch.patterns else None)
        except GatedRepoError:
            raise DownloadError(
                f"{fetch.repo} is gated: accept its terms at https://huggingface.co/{fetch.repo} with your "
                "account, then create a read token (https://huggingface.co/settings/tokens) and set HF_TOKEN "
                "in .env (or run `hf auth login`)"
            ) from None
        except RepositoryNotFoundError:
            raise DownloadError(
                f"{fetch.repo} does not exist on the Hugging Face hub (or is private: set HF_TOKEN); "
                f"check the {owner} settings in .env"
            ) from None
        except (LocalEntryNotFoundError, OSError) as exc:
            raise DownloadError(f"could not download {fetch.repo}: {str(exc).splitlines()[0]}") from None
    report("All weights are in the cache." if seen else "Every model loads from local folders: nothing to download.")
