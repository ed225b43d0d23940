"""Loading weights: whether the hub can be reached, and load errors that name the component, the setting
that points at it and the real cause (offline, not found, gated).

When the hub cannot be reached (HF_HUB_OFFLINE, or no answer within a few seconds) loads use the local
cache only, so a missing model fails at once instead of after half a minute of retries.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from generation.progress import FinalError

__all__ = ["WeightsNotFound", "component", "hub_offline", "in_repository", "local_only", "setting_for"]


class WeightsNotFound(FinalError, RuntimeError):
    """A model's weights are neither in the local cache nor downloadable from here."""


@functools.cache
def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE is set or the hub does not answer a connection within 3 s."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return True
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "", endpoint.port or 443), timeout=3):
            return False
    except OSError:
        return True


def local_only(source: str) -> bool:
    """`local_files_only` for loading `source`: a local folder needs no hub (and no probe of it)."""
    return not os.path.exists(source) and hub_offline()


def in_repository(source: str) -> tuple[str, str | None]:
    """A hub id with a folder inside the repository (`owner/name/v2`) as (`owner/name`, `v2`); a local
    folder or a plain hub id as itself, with no subfolder."""
    parts = source.split("/")
    if os.path.exists(source) or source.startswith(("/", ".", "~")) or len(parts) <= 2:
        return source, None  # a folder here (one that is missing fails to load naming its setting)
    return "/".join(parts[:2]), "/".join(parts[2:])


def setting_for(model: str, field: str) -> str:
    """The environment variable that sets `field` of `model`, e.g. MOTIONBOT_ANIMATEDIFF__ADAPTER."""
    return f"MOTIONBOT_{model.upper().replace('-', '_')}__{field.upper()}"


def _cause(exc: BaseException, source: str) -> str:
    names = set()
    seen: BaseException | None = exc
    while seen is not None:
        names.add(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    if "GatedRepoError" in names:
        return f"{source} is gated: accept its terms on the hub and set HF_TOKEN"
    if "RepositoryNotFoundError" in names:
        return f"{source} does not exist on the hub (or is private: set HF_TOKEN)"
    if os.path.isabs(source) or source.startswith("."):
        if not os.path.exists(source.split("/{")[0]):
            return f"the folder {source} does not exist"
        return f"{source} does not hold it ({_first_line(exc)})"
    if hub_offline():
        return (
            f"{source} is not in the local cache and the hub cannot be reached from here (offline); "
            f"download it where the hub is reachable (`python -m generation download`) or use a local folder"
        )
    return f"{source} could not be loaded ({_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@contextlib.contextmanager
def component(model: str, label: str, source: str, field: str = "", *, setting: str = "") -> Iterator[None]:
    """Turn a failed load of one component of `model` into WeightsNotFound naming it and its setting: the
    model's `field`, or `setting` for a part of the worker's own (the safety checker, the segmenter)."""
    try:
        yield
    except (OSError, ValueError) as exc:  # diffusers / huggingface_hub raise these for every missing file
        named = setting or setting_for(model, field)
        raise WeightsNotFound(f"{model}: the {label} did not load: {_cause(exc, source)}. Setting: {named}") from exc
