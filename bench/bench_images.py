"""Bot memory for hostile images: the peak RSS four concurrent 40-megapixel inputs add to the bot, through
the bot's path (header, then a whole-file check two at a time) against the plain path (full decode of
each, all at once), each measured in a fresh process.

    python bench/bench_images.py              # 40 MP inputs
    python bench/bench_images.py --mp 4       # smaller, for a quick look
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def inputs(megapixels: float, folder: Path) -> list[Path]:
    """A palette PNG (a few KB), a JPEG, a GIF and an RGB PNG, each `megapixels` large."""
    from PIL import Image

    side = int(math.sqrt(megapixels * 1e6))
    made = []
    for name, mode, fmt in (
        ("palette.png", "P", "PNG"),
        ("photo.jpg", "RGB", "JPEG"),
        ("anim.gif", "P", "GIF"),
        ("rgb.png", "RGB", "PNG"),
    ):
        img = Image.new(mode, (side, side), 7 if mode == "P" else (20, 90, 160))
        out = io.BytesIO()
        img.save(out, format=fmt)
        (folder / name).write_bytes(out.getvalue())
        made.append(folder / name)
    return made


def _peak_kb() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's peak
    across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(path: str, files: list[str]) -> None:
    """In this process: import, note RSS, run `path` on the four files concurrently, print the peak added."""
    import asyncio

    from generation.images import check_whole, load_rgb, probe

    datas = [Path(f).read_bytes() for f in files]
    before = _peak_kb()

    async def bot_path() -> None:
        checks = asyncio.Semaphore(2)  # as bot.exts.video._requests.VideoRequests

        async def one(data: bytes) -> None:
            probe(data)
            async with checks:
                await asyncio.to_thread(check_whole, data)

        await asyncio.gather(*(one(d) for d in datas))

    async def plain_path() -> None:
        await asyncio.gather(*(asyncio.to_thread(load_rgb, d) for d in datas))

    asyncio.run(bot_path() if path == "bot" else plain_path())
    peak = _peak_kb()
    print(json.dumps({"added_mb": round((peak - before) / 1024, 1)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mp", type=float, default=40.0, help="megapixels of each input")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1:])
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        files = [str(p) for p in inputs(args.mp, Path(folder))]
        sizes = {Path(f).name: Path(f).stat().st_size for f in files}
        figures: dict[str, object] = {"megapixels": args.mp, "file_bytes": sizes}
        for path in ("bot", "plain"):
            done = subprocess.run(
                [sys.executable, __file__, "--measure", path, *files],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            figures[f"{path}_added_mb"] = json.loads(done.stdout)["added_mb"]
    print(f"four concurrent {args.mp:g} MP inputs ({', '.join(f'{n} {b / 1e3:.0f} kB' for n, b in sizes.items())})")
    print(f"  bot path (header, then whole-file check, 2 at a time): +{figures['bot_added_mb']} MB peak RSS")
    print(f"  plain path (full decode of each, all at once):         +{figures['plain_added_mb']} MB peak RSS")
    if args.json:
        Path(args.json).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
