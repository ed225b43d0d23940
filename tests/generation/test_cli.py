"""`python -m generation render` as an admin runs it, on tiny local model folders: in a subprocess where the
entry point itself is what is checked, else `main()` in this process (no second torch start per test)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from generation.__main__ import main
from generation.encode import decode_frames, encode
from generation.jobs import OutputFormat
from generation.models import Family
from generation.pipelines import RUNNERS
from tests.conftest import png_bytes


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generation", *args],
        env=os.environ | env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


class Cli:
    """`python -m generation …` in this process: the exit code, stdout and stderr."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path):
        self.monkeypatch, self.capsys = monkeypatch, capsys
        monkeypatch.chdir(cwd)

    def __call__(self, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
        for key, value in (env or {}).items():
            self.monkeypatch.setenv(key, value)
        try:
            code = main(args)
        except SystemExit as exc:  # argparse refusing the command line
            code = exc.code if isinstance(exc.code, int) else 2
        out = self.capsys.readouterr()
        return code, out.out, out.err


@pytest.fixture
def cli(tiny_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path) -> Cli:
    return Cli(monkeypatch, capsys, tmp_path)


def test_render_an_image_with_pika_flags_writes_a_playable_mp4(tiny_models: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes(120, 80))
    done = run_cli(
        [
            "render",
            "--image",
            "in.png",
            "--out",
            "clip.mp4",
            "-motion",
            "3",
            "-camera",
            "zoom",
            "in",
            "-seed",
            "11",
            "-fps",
            "12",
            "-neg",
            "blurry text",
        ],
        tiny_models,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "seed 11" in done.stdout and "12 fps" in done.stdout
    with av.open(io.BytesIO((tmp_path / "clip.mp4").read_bytes())) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert sum(1 for _ in container.decode(stream)) == 4


def test_render_a_prompt_to_gif(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(["render", "--prompt", "a fox -camera pan left", "--out", "fox.gif"])
    assert code == 0, err
    assert (tmp_path / "fox.gif").read_bytes().startswith(b"GIF8")


def test_bad_flag_is_reported_without_a_traceback(cli: Cli) -> None:
    code, _, err = cli(["render", "--prompt", "a fox", "--out", "x.mp4", "-motion", "9"])
    assert code == 2
    assert "`-motion` must be 0–4, got `9`" in err


def test_missing_weights_are_reported_with_what_to_do(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    env = {"MOTIONBOT_SVD_XT__WEIGHTS": "stabilityai/stable-video-diffusion-img2vid-xt"}
    code, _, err = cli(["render", "--image", "in.png", "--out", "x.mp4"], env)
    assert code == 1
    assert "not in the local cache" in err and "MOTIONBOT_SVD_XT__WEIGHTS" in err


def test_an_unwritable_out_path_is_refused_before_rendering(tiny_models: dict[str, str], tmp_path: Path) -> None:
    done = run_cli(["render", "--prompt", "a fox", "--out", "/nonexistent/dir/x.mp4"], tiny_models, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "/nonexistent/dir" in done.stderr and "loading" not in done.stderr  # no render was started


def test_an_unknown_long_option_is_an_error_not_prompt_text(cli: Cli, tmp_path: Path) -> None:
    for option in (["--memory-mod", "low"], ["--nosuch-flag"]):
        code, _, err = cli(["render", "--prompt", "a fox", "--out", "x.mp4", *option])
        assert code == 2 and option[0] in err, err
        assert not (tmp_path / "x.mp4").exists()


def test_a_missing_motion_adapter_is_named_with_its_setting_fast(cli: Cli) -> None:
    env = {"MOTIONBOT_ANIMATEDIFF__ADAPTER": "guoyww/animatediff-motion-adapter-v1-5-2"}
    started = time.monotonic()
    code, _, err = cli(["render", "--prompt", "a fox", "--out", "x.mp4", "-model", "animatediff"], env)
    assert code == 1
    assert "motion adapter" in err and "MOTIONBOT_ANIMATEDIFF__ADAPTER" in err, err
    assert "offline" in err and "MOTIONBOT_ANIMATEDIFF__WEIGHTS" not in err
    assert time.monotonic() - started < 20  # no retries against a hub that cannot be reached


def test_a_bad_setting_names_its_variable(cli: Cli) -> None:
    code, _, err = cli(["render", "--prompt", "a fox", "--out", "x.mp4"], {"MOTIONBOT_SVD_XT__WIDTH": "wide"})
    assert code == 2
    assert "MOTIONBOT_SVD_XT__WIDTH='wide'" in err, err


def test_random_models_writes_absolute_paths_usable_from_anywhere(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    cli.monkeypatch.chdir(tmp_path / "repo")
    code, out, err = cli(["random-models", "--out", "tiny"])
    assert code == 0, err
    env_file = tmp_path / "repo" / "tiny" / "motionbot.env"
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    weights = values["MOTIONBOT_SVD__WEIGHTS"]
    assert Path(weights).is_absolute() and Path(weights).is_dir()
    assert f". {env_file}" in out  # one instruction, with the file's real path


def test_extend_and_smooth_an_existing_clip(
    tiny_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # in this process: the command line's own code, without a second torch start
    gradient = np.linspace(0, 255, 48 * 80 * 3).reshape(48, 80, 3)
    frames = np.stack([np.roll(gradient, 4 * i, axis=1) for i in range(4)]).astype(np.uint8)
    (tmp_path / "a.mp4").write_bytes(encode(frames, 24, OutputFormat.MP4, 10 << 20).data)  # any clip will do
    assert main(["render", "--extend", "a.mp4", "--out", "b.mp4", "-seed", "2"]) == 0
    assert "80x48, extended 4 → 7 frames" in capsys.readouterr().out
    assert main(["render", "--smooth-clip", "b.mp4", "--out", "c.mp4"]) == 0
    assert len(decode_frames((tmp_path / "c.mp4").read_bytes())[0]) == 13  # 7 frames at 24 fps, first to last at 48


def test_morph_and_upscale_from_the_command_line(
    tiny_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(png_bytes(64, 64, (200, 40, 40)))
    (tmp_path / "b.png").write_bytes(png_bytes(64, 64, (30, 190, 60)))
    assert main(["render", "--image", "a.png", "--end", "b.png", "--out", "m.mp4", "red", "to", "green"]) == 0
    made = capsys.readouterr().out
    assert "64x64, 17 frames" in made and "model ltx" in made, "a prompted picture goes to the prompt-following model"
    assert main(["render", "--upscale-clip", "m.mp4", "--out", "big.mp4", "red"]) == 0
    assert "128x128, 17 frames" in capsys.readouterr().out
    assert main(["render", "--image", "a.png", "--out", "e.mp4", "-effect", "melt", "-steps", "2"]) == 0
    assert "model ltx" in capsys.readouterr().out, "an effect, and no prompt: the prompt-following model"
    assert main(["render", "--prompt", "a", "--end", "b.png", "--out", "x.mp4"]) == 2
    assert "--end goes with --image" in capsys.readouterr().err
    assert main(["render", "--image", "a.png", "--through", "b.png", "--out", "x.mp4"]) == 2
    assert "--through goes with --image and --end" in capsys.readouterr().err
    five = ["--image", "a.png", "--through", "b.png", "--through", "a.png", "--through", "b.png", "--end", "a.png"]
    assert main(["render", *five, "--out", "x.mp4", "red", "and", "green"]) == 1, "the pictures reach the planner"
    assert "5 pictures need at least 33 frames on ltx, got 17" in capsys.readouterr().err
    cast = ["--prompt", "they dance", "--ingredient", "a.png", "--ingredient", "b.png", "--out", "i.mp4", "-ar", "1:1"]
    assert main(["render", *cast]) == 0
    assert "model wan-vace" in capsys.readouterr().out, "/ingredients' model, as the bot picks it"
    assert len(decode_frames((tmp_path / "i.mp4").read_bytes())[0]) == 9, "the clip alone, not the two pictures"
    assert main(["render", "--image", "a.png", "--ingredient", "b.png", "--out", "x.mp4"]) == 2
    assert "--ingredient goes with --prompt" in capsys.readouterr().err
    assert main(["render", "--expand-clip", "m.mp4", "--out", "tall.mp4", "-ar", "9:16", "a", "beach"]) == 0
    made = capsys.readouterr().out
    assert "model wan-vace" in made, "/expand's model, as the bot picks it"
    tall = decode_frames((tmp_path / "tall.mp4").read_bytes())[0]
    assert tall.shape[1] > tall.shape[2], "the square clip on a 9:16 frame"


def test_a_worker_whose_model_family_has_no_runner_stops_at_start_naming_it(
    tiny_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTIONBOT_DEVICE", "cpu")
    monkeypatch.delitem(RUNNERS, Family.ANIMATEDIFF)
    assert main(["worker", "--models", "svd,animatediff", "--metrics-port", "0"]) == 2
    assert "model `animatediff` is of family `animatediff`, which has no runner" in capsys.readouterr().err
