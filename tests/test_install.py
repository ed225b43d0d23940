"""`scripts/install` (used by scripts/run and scripts/test) picks the torch build for the machine: the CPU
build where no NVIDIA GPU is found, from PyTorch's CPU index, or the default index at once where that
index cannot be reached. `--plan` says what it would do and installs nothing."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, free_port


def plan(env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / "install"), "--plan"], env=os.environ | env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def cpu_index() -> Iterator[str]:
    """A package index on localhost that answers for /torch/."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def no_gpu_path() -> str:
    """PATH without any nvidia-smi."""
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists())


def test_without_a_gpu_the_cpu_build_comes_from_pytorchs_cpu_index(
    cpu_index: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "torch").mkdir()
    monkeypatch.chdir(tmp_path)  # the index server serves this folder
    env = {"PATH": no_gpu_path(), "MOTIONBOT_TORCH_CPU_INDEX": cpu_index, "MOTIONBOT_TORCH": "auto"}
    assert plan(env) == f"torch: CPU build from {cpu_index}"


def test_an_unreachable_cpu_index_falls_back_to_the_default_index_at_once(tmp_path: Path) -> None:
    index = f"http://127.0.0.1:{free_port()}/whl/cpu"
    started = time.monotonic()
    said = plan({"PATH": no_gpu_path(), "MOTIONBOT_TORCH_CPU_INDEX": index, "MOTIONBOT_TORCH": "auto"})
    assert said == f"torch: the default index ({index} cannot be reached)"
    assert time.monotonic() - started < 5


def test_with_an_nvidia_gpu_or_when_asked_the_cuda_build_is_kept(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text('#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-0)"\n')
    (fake / "nvidia-smi").chmod(0o755)
    assert plan({"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "MOTIONBOT_TORCH": "auto"}).startswith(
        "torch: CUDA"
    )
    assert plan({"PATH": no_gpu_path(), "MOTIONBOT_TORCH": "cuda"}).startswith("torch: CUDA")
