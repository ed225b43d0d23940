"""Reserve + commit pairs per second on one SQLite connection (WAL, synchronous=FULL), one at a time and
from 50 concurrent tasks, on a real file.

    python bench/bench_storage.py            # 2000 pairs each way
    python bench/bench_storage.py --pairs 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.db import Database
from storage.guilds import Guilds
from storage.quotas import Quotas
from storage.settings import StorageSettings


async def run(pairs: int, folder: Path) -> dict[str, float]:
    db = await Database.open(folder / "bench.db")
    defaults = StorageSettings(_env_file=None, daily_credits=10**9, max_queued=10**9)  # type: ignore[call-arg]
    quotas = Quotas(db, Guilds(db, defaults))

    async def pair(job_id: str, user: int) -> None:
        await quotas.reserve(job_id, 1, user, 10)
        await quotas.commit(job_id)

    started = time.perf_counter()
    for index in range(pairs):
        await pair(f"seq{index}", index % 100)
    sequential = pairs / (time.perf_counter() - started)

    started = time.perf_counter()
    queue = iter(range(pairs))

    async def task() -> None:
        for index in queue:
            await pair(f"par{index}", index % 100)

    await asyncio.gather(*(task() for _ in range(50)))
    concurrent = pairs / (time.perf_counter() - started)
    await db.close()
    return {"pairs": pairs, "pairs_per_s_one_task": sequential, "pairs_per_s_50_tasks": concurrent}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(run(args.pairs, Path(folder)))
    print(f"reserve + commit, {args.pairs} pairs on one connection:")
    print(f"  one task:  {figures['pairs_per_s_one_task']:8.0f} pairs/s")
    print(f"  50 tasks:  {figures['pairs_per_s_50_tasks']:8.0f} pairs/s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
