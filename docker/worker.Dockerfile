# A GPU worker: torch (its CUDA libraries come with the wheels), diffusers, PyAV. The NVIDIA container
# toolkit on the host provides the driver. One container per GPU.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HOME=/models TORCH_HOME=/models/torch
WORKDIR /app
RUN useradd --create-home --uid 10001 motionbot && mkdir /models && chown motionbot /models
# DejaVu Sans Bold: the letters /illusion draws hidden words with (MOTIONBOT_ILLUSION_FONT).
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY generation ./generation
COPY storage ./storage
COPY bot ./bot
# Versions are pinned in pyproject.toml (torch==2.13.0, diffusers==0.42.1, …).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[worker]"

USER 10001
VOLUME ["/models"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
  CMD ["python", "-m", "generation", "worker", "--check"]
CMD ["python", "-m", "generation", "worker", "--preload"]
