"""Rendering benchmark: ``python -m synth.bench [--scenes 5] [--num-views 8] [--resolution 256]``.

Renders fresh scenes with the default config into a temporary folder and reports seconds
per scene, split into the Blender part (scene build + Cycles RGB) and the proxy pass
(ray casting + writing nothing else), and the proxy pass's share of the rest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from synth.config import load_config
from synth.dataset import render_dataset


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=5)
    ap.add_argument("--num-views", type=int, default=8)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="render here instead of a temporary folder")
    args = ap.parse_args(argv)
    cfg = load_config(None, {"seed": args.seed, "cameras": {"views": args.num_views, "width": args.resolution,
                                                           "height": args.resolution}})
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "bench"
        render_dataset(root, args.scenes, cfg)
        rows = [json.loads(p.read_text())["timings"] for p in sorted(root.glob("scene_*/scene.json"))]
    mean = lambda k: statistics.fmean(r[k] for r in rows)  # noqa: E731
    total, proxy = mean("total_s"), mean("proxy_pass_s")
    result = {"scenes": len(rows), "views": args.num_views, "resolution": args.resolution,
              "seconds_per_scene": total, "blender_build_s": mean("blender_build_s"),
              "rgb_render_s": mean("rgb_render_s"), "proxy_pass_s": proxy,
              "proxy_share_of_rest": proxy / (total - proxy),
              "max_seconds_per_scene": max(r["total_s"] for r in rows)}
    for k, v in result.items():
        print(f"{k:>22}: {v:.3f}" if isinstance(v, float) else f"{k:>22}: {v}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
