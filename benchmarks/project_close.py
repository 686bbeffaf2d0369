"""What a project's close costs: the inventory (every file hashed with SHA-256, before anything
is destroyed), the destruction and the check that nothing remains, on a workspace-like folder
of N files; prints files/s and MB/s with CPU seconds beside wall time.

    .venv/bin/python benchmarks/project_close.py [--files 20000] [--kib 16]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enclave.closure import PathLocation  # noqa: E402


def timed(step):
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--kib", type=int, default=16, help="size of each file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-close-") as root:
        workspace = Path(root) / "workspace"
        block = os.urandom(args.kib * 1024)
        for i in range(args.files):
            folder = workspace / f"d{i // 500:03}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{i:06}.bin").write_bytes(block)
        location = PathLocation("workspace", workspace)
        megabytes = args.files * args.kib / 1024
        print(
            f"{args.files:,} files of {args.kib} KiB ({megabytes:,.0f} MB); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        items, wall, cpu = timed(location.inventory)
        print(
            f"inventory (SHA-256 of every file): {wall:6.2f} s wall, {cpu:6.2f} s CPU: "
            f"{len(items) / wall:,.0f} entries/s, {megabytes / wall:,.0f} MB/s"
        )
        _, wall, cpu = timed(location.destroy)
        print(f"destroy:                           {wall:6.2f} s wall, {cpu:6.2f} s CPU: "
              f"{args.files / wall:,.0f} files/s")  # fmt: skip
        left, wall, cpu = timed(location.inventory)
        assert left == []
        print(f"check that nothing remains:        {wall:6.2f} s wall, {cpu:6.2f} s CPU")


if __name__ == "__main__":
    main()
