"""Stands in for ``python -m engine.cli.main reconstruct INPUT --calibration C --out OUT
[--frames F]``: prints tqdm-like progress and copies the fit folder ``$FAKE_FIT_SOURCE`` into
OUT; ``--frames fail`` exits 2 with an error line, as the CLI does; ``--frames slow`` stops
after frame 1 for a minute (to be cancelled)."""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

args = sys.argv[1:]
assert args[:3] == ["-m", "engine.cli.main", "reconstruct"], args
parser = argparse.ArgumentParser()
parser.add_argument("input")
parser.add_argument("--calibration", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--frames", default="")
ns = parser.parse_args(args[3:])
if ns.frames == "fail":
    print("error: --calibration: no camera named cam09", file=sys.stderr)
    sys.exit(2)
if ns.frames == "slow":
    sys.stderr.write("\rreconstruct:  33%| | 1/3 [00:01<00:02, 1frame/s]")
    sys.stderr.flush()
    time.sleep(60)
for i in range(4):
    sys.stderr.write(f"\rreconstruct: {25 * i}%| | {i}/3 [00:00<?, ?frame/s]")
    sys.stderr.flush()
    time.sleep(0.01)
source = Path(os.environ["FAKE_FIT_SOURCE"])
shutil.copytree(source, ns.out, dirs_exist_ok=True)
print("3 frame(s), 4 views: wrote", ns.out, file=sys.stderr)
