"""Command line: render a clip on this host, or write random-weight models to try things without weights.

python -m generation render --image in.png --out clip.mp4 -motion 3 -camera zoom in
python -m generation render --prompt "a fox in the snow" --out fox.mp4 -camera pan left -seed 7
python -m generation render --extend clip.mp4 --out longer.mp4 -model svd-xt -seed 7
python -m generation render --smooth-clip clip.mp4 --out smooth.mp4
python -m generation render --image first.png --end last.png --out morph.mp4 "the bud opens into a flower"
python -m generation render --upscale-clip clip.mp4 --out big.mp4 "a fox in the snow"
python -m generation random-models --out ./tiny-models
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from generation.envconfig import SettingsError, load
from generation.job_builder import build_job
from generation.jobs import Fit, JobKind, OutputFormat, Stage
from generation.options import OptionError, parse_flags

if TYPE_CHECKING:
    from generation.settings import GenerationSettings

__all__ = ["main"]


def _render(args: argparse.Namespace, flags: list[str]) -> int:
    from tqdm import tqdm

    from generation.encode import EncodeError
    from generation.engine import Engine, JobRejected, WeightsNotFound
    from generation.interpolate import flow_source
    from generation.pipelines import NoRunner
    from generation.runtime import NoGPUError, Runtime
    from generation.settings import GenerationSettings

    settings = load(GenerationSettings)
    if args.device:
        settings.device = args.device
    if args.memory_mode:
        settings.memory_mode = args.memory_mode
    out = Path(args.out)
    try:
        output = OutputFormat(out.suffix.lstrip(".").lower())
    except ValueError:
        print(f"error: --out must end in .mp4, .gif or .webm, got {out.name}", file=sys.stderr)
        return 2
    folder = out.parent  # "." for a bare file name
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        print(f"error: --out {out}: the folder {folder} does not exist or is not writable", file=sys.stderr)
        return 2
    # Shell words that held spaces ("-neg 'blurry text'") go back in quotes for the flag parser.
    text = " ".join([args.prompt or "", *(f'"{word}"' if " " in word else word for word in flags)])
    clip = args.extend or args.smooth_clip or args.upscale_clip or args.expand_clip
    sources = {
        "image": JobKind.IMAGE_TO_VIDEO,
        "extend": JobKind.EXTEND,
        "smooth_clip": JobKind.SMOOTH,
        "upscale_clip": JobKind.UPSCALE,
        "expand_clip": JobKind.EXPAND,
    }
    kind = next((kind for name, kind in sources.items() if getattr(args, name)), JobKind.TEXT_TO_VIDEO)
    if args.ingredient and kind is not JobKind.TEXT_TO_VIDEO:
        print("error: --ingredient goes with --prompt (a clip from words with your pictures in it)", file=sys.stderr)
        return 2
    kind = JobKind.INGREDIENTS if args.ingredient else kind
    if args.end and kind is not JobKind.IMAGE_TO_VIDEO:
        print("error: --end goes with --image (the clip runs from one picture to the other)", file=sys.stderr)
        return 2
    if args.through and not args.end:
        print("error: --through goes with --image and --end (pictures on the way between them)", file=sys.stderr)
        return 2
    try:
        runtime = Runtime.from_settings(settings)
        image = Path(args.image).read_bytes() if args.image else None
        options = parse_flags(text)
        job = build_job(
            options,
            job_id=uuid.uuid4().hex,
            kind=kind,
            models=settings.registry(),
            default_model=_default_model(settings, kind, bool(options.prompt or options.effect) or bool(args.end)),
            image=image,
            end_image=Path(args.end).read_bytes() if args.end else None,
            middle_images=tuple(Path(picture).read_bytes() for picture in args.through),
            ingredients=tuple(Path(picture).read_bytes() for picture in args.ingredient),
            smooth=args.smooth,
            output=output,
            byte_budget=int(args.budget_mb * 1024 * 1024),
            fit=Fit(args.fit),
        )
        if clip:
            job = dataclasses.replace(job, video=Path(clip).read_bytes())
    except (OptionError, NoGPUError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if runtime.device.type == "cpu" and not args.device:
        print("No CUDA GPU found: rendering on the CPU, which takes hours at real model sizes.", file=sys.stderr)

    bar = tqdm(total=1, unit="step", dynamic_ncols=True, file=sys.stderr)

    def on_progress(stage: Stage, step: int, total: int) -> None:
        bar.set_description(stage.value)
        if total:
            bar.total, bar.n = total, step
        bar.refresh()

    try:
        engine = Engine(
            settings.registry(),
            runtime,
            segmenter=settings.segmenter,
            style_loras=settings.style_loras,
            translators=settings.prompt_translators(),
            flow=flow_source(settings, str(runtime.device)),
            illusion_font=settings.illusion_font,
        )
        result = engine.render(job, on_progress, threading.Event())
    except (JobRejected, WeightsNotFound, EncodeError, NoRunner) as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bar.close()
    out.write_bytes(result.video)
    frames = f"extended {result.source_frames} → {result.frames}" if result.source_frames else str(result.frames)
    print(
        f"{out}: {result.width}x{result.height}, {frames} frames at {result.fps} fps, "
        f"{len(result.video) / 1e6:.2f} MB, model {result.model}, seed {result.seed}, "
        f"{result.timings.get('total', 0):.1f} s"
    )
    return 0


def _default_model(settings: GenerationSettings, kind: JobKind, prompted: bool) -> str:
    """The model a render uses when -model is not given, as the bot picks it."""
    registry = settings.registry()
    if kind is JobKind.UPSCALE:
        return settings.upscale_model
    if kind in (JobKind.INGREDIENTS, JobKind.EXPAND):  # the first model that can (the bot's choice with none named)
        return next((name for name, spec in registry.items() if spec.takes(kind)), settings.default_text_model)
    if kind is JobKind.IMAGE_TO_VIDEO and prompted and settings.default_prompted_image_model in registry:
        return settings.default_prompted_image_model
    return settings.default_text_model if kind is JobKind.TEXT_TO_VIDEO else settings.default_image_model


def _worker(args: argparse.Namespace) -> int:
    import asyncio
    import socket

    from redis.exceptions import RedisError

    from generation.engines import RenderEngine, SleepEngine
    from generation.metrics import WorkerMetrics, serve
    from generation.queue_redis import QueueSettings
    from generation.settings import GenerationSettings
    from generation.worker import WorkerState, build_worker, is_alive

    queue_settings = load(QueueSettings)
    if args.check:
        return 0 if asyncio.run(is_alive(queue_settings.redis_url, args.id)) else 1
    if os.environ.get("DISCORD_TOKEN"):  # a worker parses untrusted media and third-party weights
        logging.getLogger("generation.worker").warning(
            "DISCORD_TOKEN is set in this worker's environment; a worker never needs it: remove it on GPU hosts"
        )

    settings = load(GenerationSettings)
    if args.gpu is not None:
        settings.device = f"cuda:{args.gpu}"
    if args.memory_mode:
        settings.memory_mode = args.memory_mode
    registry = settings.registry()
    models = tuple(args.models.split(",")) if args.models else tuple(registry)
    unknown = [m for m in models if m not in registry]
    if unknown:
        print(f"error: unknown or disabled models: {', '.join(unknown)} (enabled: {', '.join(registry)})")
        return 2
    engine: RenderEngine
    gpu, memory = "dry run", 0.0
    if args.dry_run is not None:
        engine = SleepEngine(args.dry_run, args.dry_run_encode)
    else:
        from generation.engine import Engine
        from generation.interpolate import flow_source
        from generation.pipelines import NoRunner
        from generation.runtime import NoGPUError, Runtime
        from generation.safety import SafetyChecker
        from generation.weights import WeightsNotFound

        try:
            runtime = Runtime.from_settings(settings)
            checker = None
            if settings.safety_checker:
                where = (
                    Runtime.from_settings(settings.model_copy(update={"device": "cpu"}))
                    if settings.safety_on_cpu
                    else runtime
                )
                checker = SafetyChecker(settings.safety_checker, settings.safety_threshold, where)
            else:
                logging.getLogger("generation.worker").warning(
                    "MOTIONBOT_SAFETY_CHECKER is empty: no picture or clip is checked, whatever a server's policy"
                )
            real_engine = Engine(
                {name: registry[name] for name in models},
                runtime,
                checker,
                settings.segmenter,
                settings.style_loras,
                settings.prompt_translators(),
                settings.preview_every,
                flow_source(settings, str(runtime.device)),
                settings.illusion_font,
            )
        except (NoGPUError, NoRunner, WeightsNotFound) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        gpu, memory = _gpu_info(runtime.device)
        for name in models if args.preload else ():
            real_engine.warm_up(name, every_size=args.preload == "all")
        if args.preload:
            real_engine.smoother.load()
        engine = real_engine
    label = f"gpu{args.gpu}" if args.gpu is not None else {"dry run": "dry-run", "cpu": "cpu"}.get(gpu, "gpu")
    metrics = WorkerMetrics()
    port = args.metrics_port if args.metrics_port is not None else 9111 + (args.gpu or 0)
    serve(metrics.registry, port)
    state = WorkerState(
        id=args.id or f"{socket.gethostname()}-{label}-{os.getpid()}",
        engine=engine,
        models=models,
        settings=queue_settings,
        gpu=gpu,
        gpu_memory_gb=memory,
        memory_mode=settings.memory_mode.value,
        metrics=metrics,
    )
    try:
        build_worker(state).run()
    except (RedisError, OSError) as exc:
        print(f"error: {queue_settings.unreachable(exc)}", file=sys.stderr)
        return 1
    return 0


def _gpu_info(device: object) -> tuple[str, float]:
    import torch

    if getattr(device, "type", "cpu") != "cuda":
        return "cpu", 0.0
    props = torch.cuda.get_device_properties(device)  # type: ignore[arg-type]
    return props.name, round(props.total_memory / 2**30, 1)


def _download(args: argparse.Namespace) -> int:
    from generation.download import DownloadError, fetch_models, safety_checker, segmenter, translators
    from generation.settings import GenerationSettings, SmoothEngine

    settings = load(GenerationSettings)
    registry = settings.registry()
    names = args.models or list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        print(f"error: unknown or disabled models: {', '.join(unknown)} (enabled: {', '.join(registry)})")
        return 2
    try:
        extra = safety_checker(settings.safety_checker) + segmenter(settings.segmenter)
        extra += translators(settings.prompt_translators().values())
        fetch_models((registry[name] for name in names), extra=extra)
        if settings.smooth is not SmoothEngine.MINTERPOLATE and not settings.smooth_weights:
            from generation.flow import fetch_published

            print(f"worker: Smooth's optical flow, torchvision's {settings.smooth_flow.value} weights")
            fetch_published(settings.smooth_flow.value)
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _random_models(args: argparse.Namespace) -> int:
    from generation.random_models import write_models

    write_models(Path(args.out), size=args.size)
    env_file = Path(args.out).resolve() / "motionbot.env"
    print(f"Wrote random-weight {args.size} models to {env_file.parent} and their settings to {env_file}.")
    print(f"To use them in this shell: set -a; . {env_file}; set +a")
    print(f"(or, for the bot and workers started from .env: cat {env_file} >> .env)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generation", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser(
        "render",
        allow_abbrev=False,
        help="render one clip here (Pika flags such as -motion 3 -camera zoom in go after the options)",
    )
    source = render.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="image to animate (PNG, JPEG, WebP, GIF)")
    source.add_argument("--prompt", help="text to make a video from")
    source.add_argument("--extend", metavar="CLIP", help="continue a clip (MP4): the clip, then more of it")
    source.add_argument("--smooth-clip", metavar="CLIP", help="interpolate a clip (MP4) to a higher frame rate")
    source.add_argument("--upscale-clip", metavar="CLIP", help="twice a clip's width and height (an ltx model)")
    source.add_argument(
        "--expand-clip",
        metavar="CLIP",
        help="a clip (MP4) on a wider or taller frame (-ar 9:16), what is around it drawn (/expand; a VACE model)",
    )
    render.add_argument("--end", metavar="IMAGE", help="with --image: the picture the clip ends on (/morph)")
    render.add_argument(
        "--through",
        metavar="IMAGE",
        action="append",
        default=[],
        help="with --image and --end: a picture the clip passes through on the way (again for more, in order)",
    )
    render.add_argument(
        "--ingredient",
        metavar="IMAGE",
        action="append",
        default=[],
        help="with --prompt: a picture of who or what the clip shows (/ingredients; again for more, up to 3)",
    )
    render.add_argument("--out", required=True, help="output file: .mp4, .gif or .webm")
    render.add_argument("--smooth", action="store_true", help="interpolate frames to a higher fps")
    render.add_argument("--fit", choices=[f.value for f in Fit], default="crop", help="fit the image by crop or pad")
    render.add_argument("--budget-mb", type=float, default=10.0, help="largest file to write (MiB)")
    render.add_argument("--device", help="cpu, cuda, cuda:1 … (default: a GPU if there is one)")
    render.add_argument("--memory-mode", choices=["full", "balanced", "low"], help="see README: memory modes")

    worker = commands.add_parser("worker", help="take jobs from Redis and render them (one process per GPU)")
    worker.add_argument("--models", help="comma-separated models to serve (default: every enabled one)")
    worker.add_argument("--gpu", type=int, help="CUDA device index (default: MOTIONBOT_DEVICE)")
    worker.add_argument("--memory-mode", choices=["full", "balanced", "low"])
    worker.add_argument(
        "--preload",
        nargs="?",
        const="all",
        choices=["all", "default"],
        help="load every model before taking jobs and, when compiling, warm up every size bucket (all) or only "
        "the default job's size (default: quicker to start; other sizes compile on their first clip)",
    )
    worker.add_argument("--id", help="worker id (default: host-gpu-pid)")
    worker.add_argument("--check", action="store_true", help="exit 0 only if a worker on this host is alive")
    worker.add_argument("--dry-run", type=float, metavar="SECONDS", help="sleep instead of rendering (queue tests)")
    worker.add_argument(
        "--dry-run-encode", type=float, default=0.0, metavar="SECONDS", help="with --dry-run: encode time"
    )
    worker.add_argument("--metrics-port", type=int, help="Prometheus /metrics port (default 9111 + GPU; 0 = off)")

    download = commands.add_parser("download", help="pre-fetch model weights into the Hugging Face cache")
    download.add_argument("models", nargs="*", help="models to fetch (default: every enabled one)")

    random_models = commands.add_parser("random-models", help="write random-weight models (no download)")
    random_models.add_argument("--out", required=True)
    random_models.add_argument("--size", choices=["tiny", "real"], default="tiny")

    args, extra = parser.parse_known_args(argv)
    from generation.metrics import configure_logging

    configure_logging(logging.WARNING)
    unknown = [word for word in extra if word.startswith("--")] if args.command == "render" else extra
    if unknown:  # only Pika flags (one dash) pass through to the prompt
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if args.command == "render":
            return _render(args, extra)
        logging.getLogger().setLevel(logging.INFO)
        if args.command == "download":
            return _download(args)
        return _worker(args) if args.command == "worker" else _random_models(args)
    except SettingsError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
