"""The container setup, checked without a Docker engine: the compose file by a validating parser of the
compose specification, the Dockerfiles by hadolint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from compose_spec import PyCompose

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    parsed = PyCompose.from_yaml((ROOT / "docker-compose.yml").read_text())  # raises on anything off-spec
    parsed.validate()
    return parsed.to_dict()


def test_compose_file_is_valid_and_has_the_three_roles(compose: dict) -> None:
    assert set(compose["services"]) == {"redis", "bot", "worker-gpu0"}


def test_redis_persists_and_reports_health(compose: dict) -> None:
    redis = compose["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert redis["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    assert any("/data" in str(v) for v in redis["volumes"])


@pytest.mark.parametrize("service", ["bot", "worker-gpu0"])
def test_services_wait_for_a_healthy_redis_and_read_env(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
    assert spec["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert ".env" in str(spec["env_file"])


def test_bot_requires_a_token_and_keeps_sqlite_on_a_volume(compose: dict) -> None:
    bot = compose["services"]["bot"]
    assert bot["environment"]["DISCORD_TOKEN"].startswith("${DISCORD_TOKEN:?")
    assert bot["environment"]["MOTIONBOT_DATABASE_PATH"] == "/data/motionbot.db"
    assert any("bot-data" in str(v) and "/data" in str(v) for v in bot["volumes"])


def test_worker_reserves_a_gpu_caches_models_and_has_a_healthcheck(compose: dict) -> None:
    worker = compose["services"]["worker-gpu0"]
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["device_ids"] == ["0"]
    assert worker["environment"]["HF_HOME"] == "/models" and any("hf-cache" in str(v) for v in worker["volumes"])
    cache = worker["environment"]["MOTIONBOT_COMPILE_CACHE"]  # compiled kernels outlive the container
    assert any(str(v).endswith(f":{cache}") and "compile-cache" in str(v) for v in worker["volumes"])
    assert worker["healthcheck"]["test"][1:] == ["python", "-m", "generation", "worker", "--check"]


@pytest.mark.parametrize("dockerfile", ["docker/bot.Dockerfile", "docker/worker.Dockerfile"])
def test_dockerfiles_pass_hadolint(dockerfile: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), "--no-color", str(ROOT / dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_bot_image_has_no_torch() -> None:
    text = (ROOT / "docker/bot.Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in text and "[worker]" not in text


def test_the_worker_gets_no_discord_token(compose: dict) -> None:
    assert compose["services"]["worker-gpu0"]["environment"]["DISCORD_TOKEN"] == ""  # scripts/run: test_run_command
