"""The generation side of motionbot: the torch-free job contract the bot shares (jobs, options, models,
settings, queue) and the workers' engine, pipelines and encode.

One import-time step, torch-free until torchvision itself is imported: torchvision's wheel from PyPI is
built against CUDA torch. Beside a CPU-only torch its compiled operators do not load (torchvision allows
for that) but its import then stops where it registers fake kernels for two of them (`torchvision::nms`
and `qnms`), and with it every transformers image processor, which use torchvision when it is installed.
Nothing here uses those operators (Smooth's RAFT is plain PyTorch), so just before that module runs, the
two are declared where they are missing. Where the compiled operators load, this does nothing.

And some import-time log lines are kept quiet. torchao (the fp8 drafts, generation/fp8.py) is installed with
the worker, and diffusers and transformers import it whenever they load: torchao then warns of the optional
kernels its wheel ships for one Python version or another GPU (mxfp8, CUTLASS sm90a), diffusers 0.42 that
tensor types torchao 0.18 no longer has cannot be imported (for checkpoints saved by torchao, which none of
the models here is), and torch that torchao registers an enum the old way. None of it concerns motionbot;
errors from those loggers still show.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _DeclareMissingVisionOps(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "torchvision._meta_registrations":
            extension = sys.modules.get("torchvision.extension")
            if extension is not None and not extension._has_ops():
                import torch

                for op in ("nms", "qnms"):
                    if not hasattr(torch.ops.torchvision, op):
                        torch.library.define(
                            f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
                        )
        return None  # the module itself is found and loaded as usual


if not any(isinstance(finder, _DeclareMissingVisionOps) for finder in sys.meta_path):
    sys.meta_path.insert(0, _DeclareMissingVisionOps())

for _quiet in ("torchao", "diffusers.quantizers.torchao.torchao_quantizer", "torch.utils._pytree"):
    logging.getLogger(_quiet).setLevel(logging.ERROR)
