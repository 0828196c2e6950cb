"""Stands in for ``python -m engine.cli.main reconstruct INPUT --calibration C --out OUT
--progress jsonl [--frames F]``: writes progress as the CLI does (JSON lines on stderr) and
copies the fit folder ``$FAKE_FIT_SOURCE`` into OUT; ``--frames fail`` exits 2 with an error
line and its JSON record, as the CLI does; ``--frames slow`` stops after frame 1 for a minute
(to be cancelled)."""

import argparse
import json
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
parser.add_argument("--progress", required=True, choices=["jsonl"])
ns = parser.parse_args(args[3:])


def record(**fields):
    sys.stderr.write(json.dumps(fields) + "\n")
    sys.stderr.flush()


if ns.frames == "fail":
    record(error="--calibration: no camera named cam09")
    print("error: --calibration: no camera named cam09", file=sys.stderr)
    sys.exit(2)
if ns.frames == "slow":
    record(stage="reconstruct", done=1, total=3)
    time.sleep(60)
for i in range(4):
    record(stage="reconstruct", done=i, total=3)
    time.sleep(0.01)
source = Path(os.environ["FAKE_FIT_SOURCE"])
shutil.copytree(source, ns.out, dirs_exist_ok=True)
print("3 frame(s), 4 views: wrote", ns.out, file=sys.stderr)
