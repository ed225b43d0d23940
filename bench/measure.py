"""What the benchmarks measure frames with (and the tests that check them): torch-free."""

from __future__ import annotations

import math

import numpy as np


def psnr(made: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio of uint8 pictures, in dB (inf where they are identical)."""
    mse = float(np.mean((made.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
