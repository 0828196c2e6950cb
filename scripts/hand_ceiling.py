"""How much of the oracle fitting's error the hands cause (README, fitting): fit each scene
from the exact proxies of its first N views, then put the scene's true hand and finger
rotations in place of the fitted ones and measure again. The difference is what a perfect
hand fit would gain; what remains is the body's own error.

    .venv/bin/python scripts/hand_ceiling.py DATASET [--num-views 4] [--set hand_prior=0.5 ...]
"""

import argparse
import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from engine.evaluation.proxies import EvalConfig, scene_errors, scene_views, timed_fit
from engine.fitting.types import FitOptions
from engine.fitting.variables import is_hand
from engine.io.scene import read_scene, scene_folders
from engine.proxy import BodyCache


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--num-views", type=int, default=4)
    ap.add_argument("--set", nargs="*", default=[], help="FitOptions overrides, NAME=VALUE")
    args = ap.parse_args()
    overrides = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = EvalConfig(num_views=args.num_views, options=dataclasses.replace(FitOptions(), **overrides))
    body, proxy = BodyCache().get("anny")
    hand = torch.tensor([is_hand(n) for n in body.pose_joint_names])
    rows = []
    for index, folder in enumerate(scene_folders(Path(args.dataset))):
        scene = read_scene(folder)
        result, _ = timed_fit(scene_views(scene, config, index), body, proxy, config.options)
        true_pose = torch.tensor(scene.record["body"]["params"]["body_pose"]).reshape(1, -1, 3)
        pose = result.params.body_pose.clone()
        pose[:, hand] = true_pose[:, hand].to(pose.dtype)
        with torch.no_grad():
            out = body(dataclasses.replace(result.params, body_pose=pose))
        true_hands = dataclasses.replace(result, vertices=out.vertices[0], keypoints=out.keypoints[0])
        row = {"scene": folder.name, "hand_styles": scene.record["body"]["hand_styles"],
               **scene_errors(result, scene.gt),
               **{f"{k}_true_hands": v for k, v in scene_errors(true_hands, scene.gt).items()}}
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        rows.append(row)
    keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
    print(json.dumps({k: round(float(np.mean([r[k] for r in rows])), 2) for k in keys}))


if __name__ == "__main__":
    main()
