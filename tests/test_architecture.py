"""What the bot imports (the generation contract, the queue client, storage) must stay torch-free."""

from __future__ import annotations

import subprocess
import sys

CONTRACT = [
    "generation.jobs",
    "generation.options",
    "generation.models",
    "generation.settings",
    "generation.images",
    "generation.progress",
    "generation.queue",
    "storage.db",
    "storage.quotas",
    "storage.guilds",
    "storage.jobs",
    "storage.users",
]


def test_contract_modules_import_without_torch_or_diffusers() -> None:
    code = (
        f"import sys; import {', '.join(CONTRACT)}; "
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'av', 'numpy') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"heavy modules imported by the contract: {done.stdout} {done.stderr}"
