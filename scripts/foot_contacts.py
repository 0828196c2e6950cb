"""The foot contacts of a reconstruction (``engine.pipeline.contacts``) and how far a planted
point wanders while in contact: the foot-skate figure of issue 27.

    .venv/bin/python scripts/foot_contacts.py FIT_DIR [--point left_heel] [--span 6:66]

Reads FIT_DIR's fit.npz landmarks (any fit, with or without contact arrays), turns them into the
engine's frame (fit.json's ``world``: metres, Z up) and finds the contacts again. Prints the
floor, the runs of footage frames each heel and toe is in contact, and for ``--point`` over its
contact frames and over ``--span`` (footage frames START:STOP, inclusive): the largest horizontal
distance from its median place and from its place at the first frame, and its vertical range.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engine.pipeline.contacts import FOOT_LANDMARKS, foot_contacts
from engine.pipeline.world import WorldFrame


def runs(mask: np.ndarray, frames: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(frames[a]), int(frames[b - 1])) for a, b in zip(starts, ends)]


def wander(x: np.ndarray) -> str:
    """x (N, 3) engine frame -> the figures, in cm."""
    median = np.median(x, 0)
    from_median = np.linalg.norm(x[:, :2] - median[:2], axis=1).max()
    from_first = np.linalg.norm(x[:, :2] - x[0, :2], axis=1).max()
    return (f"{len(x)} frames: horizontally at most {100 * from_median:.1f} cm from its median place "
            f"({100 * from_first:.1f} cm from its first), {100 * np.ptp(x[:, 2]):.1f} cm up and down")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fit", type=Path)
    ap.add_argument("--point", default="left_heel", choices=list(FOOT_LANDMARKS))
    ap.add_argument("--span", default="6:66")
    a = ap.parse_args()
    record = json.loads((a.fit / "fit.json").read_text())
    w = record["world"]
    world = WorldFrame(w["world_units_per_metre"], w["unit"], w["up_axis"], w["up_angle_deg"])
    with np.load(a.fit / "fit.npz") as z:
        landmarks, frames, fps = world.points_to_engine(z["landmarks"]), z["frames"], float(z["fps"])
    names = record["body"]["landmark_names"]
    c = foot_contacts(landmarks, names, fps)
    print(f"floor: Z {c.floor:.4f} m (engine frame); {len(frames)} frames at {fps:g} fps")
    for point, mask in c.contact.items():
        print(f"{point}: {int(mask.sum())} frames in contact, footage frames {runs(mask, frames)}")
    x = landmarks[:, names.index(next(n for n in FOOT_LANDMARKS[a.point] if n in names))]
    start, stop = (int(v) for v in a.span.split(":"))
    print(f"{a.point} in contact, {wander(x[c.contact[a.point]])}")
    print(f"{a.point} over frames {start}-{stop}, {wander(x[(frames >= start) & (frames <= stop)])}")


if __name__ == "__main__":
    main()
