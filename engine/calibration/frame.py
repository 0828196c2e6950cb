"""The world of a calibration found from the person: metres, Z up, the origin on the floor.

- Scale: the triangulated lengths of the body segments ``engine.pipeline.world`` measures
  units with (shoulders, hips, upper arms, forearms, thighs, shanks) against the same segments
  of the body model's average person; the median ratio. With ``height``: that person scaled to
  the given height.
- Up: a person standing keeps their centre of mass over their support: the mean direction
  from the supporting ankle (the lower one, or the ankles' midpoint when both are down) to the
  centre of mass (taken at 60% hips, 40% shoulders), starting from the ankles-to-shoulders
  direction to tell which ankle is lower. On the bundled capture (a person balancing on one
  leg and leaning) the ankles-to-shoulders direction is 12 degrees off the vertical, this 1.5.
- Floor: a low percentile (``FLOOR_PERCENTILE``) of the heels' and toes' heights along up: the
  foot on the ground, whichever it is.
- Origin: on the floor under the hips' midpoint at the first instant they are triangulated;
  X along the first camera's right axis laid flat on the floor, Y = Z x X.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InputError

FLOOR_PERCENTILE = 5.0
FEET = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")


@dataclass
class MetricFrame:
    """x_world = scale * R_world_solution @ x_solution + offset (metres, Z up)."""

    scale: float
    R_world_solution: np.ndarray
    offset: np.ndarray
    body_height_m: float          # the height the scale assumed
    segments_used: int            # segment measurements the median came from
    up_angle_spread_deg: float    # how much the person's up direction varied (median over instants)

    def points(self, x: np.ndarray) -> np.ndarray:
        return self.scale * x @ self.R_world_solution.T + self.offset

    def camera(self, R_cam_solution: np.ndarray, t_cam_solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The camera's R_cam_world, t_cam_world in the metric world."""
        R = R_cam_solution @ self.R_world_solution.T
        return R, self.scale * t_cam_solution - R @ self.offset


def reference_segments() -> tuple[dict[tuple[str, str], float], float]:
    """The average person's segment lengths (metres) between the detector's landmarks, and
    that person's height: the body model (Anny) on its default shape, through its landmark table."""
    import torch

    from engine.body import load_body_model
    from engine.landmarks import load_landmark_table
    from engine.pipeline.world import SEGMENTS

    model = load_body_model("anny")
    table = load_landmark_table(model.name, None, num_vertices=int(model.faces.max()) + 1)
    with torch.no_grad():
        rest = model(model.neutral_params(1)).vertices[0].double().cpu().numpy()
    positions, index = table.positions(rest), {n: i for i, n in enumerate(table.names)}
    lengths = {(a, b): float(np.linalg.norm(positions[index[a]] - positions[index[b]])) for a, b in SEGMENTS}
    up = np.argmax(np.ptp(rest, axis=0))
    return lengths, float(np.ptp(rest[:, up]))


def metric_frame(points: np.ndarray, names: tuple[str, ...], R_cam0: np.ndarray,
                 segments: dict[tuple[str, str], float], average_height: float,
                 height: float | None = None) -> MetricFrame:
    """``points`` (T, L, 3): the person's landmarks in the solution's frame (NaN: unknown);
    ``R_cam0``: the first camera's rotation there; ``height``: the person's height (metres) if known."""
    index = {n: i for i, n in enumerate(names)}
    factor = 1.0 if height is None else height / average_height
    ratios = []
    for (a, b), expected in segments.items():
        measured = np.linalg.norm(points[:, index[a]] - points[:, index[b]], axis=-1)
        ratios += list(measured[np.isfinite(measured)] / (expected * factor))
    if len(ratios) < 10:
        raise InputError(f"too few body segments triangulated ({len(ratios)}) to find the scale: the person must be "
                         f"seen whole by two or more cameras in several frames")
    scale = 1.0 / float(np.median(ratios))

    mid = lambda a, b: (points[:, index[a]] + points[:, index[b]]) / 2  # noqa: E731
    up, spread = _up(points, index, mid)
    right = R_cam0[0] - (R_cam0[0] @ up) * up
    if np.linalg.norm(right) < 1e-6:  # the first camera looks straight down
        right = R_cam0[1] - (R_cam0[1] @ up) * up
    x = right / np.linalg.norm(right)
    R = np.stack([x, np.cross(up, x), up])

    feet = points[:, [index[n] for n in FEET]].reshape(-1, 3)
    feet = feet[np.isfinite(feet).all(-1)]
    hips = mid("left_hip", "right_hip")
    first = np.flatnonzero(np.isfinite(hips).all(-1))
    if len(feet) == 0 or len(first) == 0:
        raise InputError("the feet or the hips are never triangulated: the floor and the origin cannot be placed")
    floor = np.percentile(feet @ up, FLOOR_PERCENTILE)
    start = hips[first[0]] @ R.T
    offset = -scale * np.array([start[0], start[1], floor])
    return MetricFrame(scale, R, offset, average_height * factor, len(ratios), spread)


BOTH_DOWN = 0.05  # ankles closer in height than this fraction of the leg's length are both on the floor
COM_HIPS = 0.6    # the centre of mass, between the hips' and the shoulders' midpoints


def _up(points: np.ndarray, index: dict[str, int], mid) -> tuple[np.ndarray, float]:
    """The up direction (unit) and the median angle (degrees) of each instant's estimate from it."""
    shoulders, hips = mid("left_shoulder", "right_shoulder"), mid("left_hip", "right_hip")
    left, right = points[:, index["left_ankle"]], points[:, index["right_ankle"]]
    up = _mean_direction(shoulders - (left + right) / 2)
    if up is None:
        raise InputError("the shoulders and ankles are never triangulated together: the up direction cannot be "
                         "found from the person (are the feet in view?)")
    com = COM_HIPS * hips + (1 - COM_HIPS) * shoulders
    leg = np.nanmedian(np.linalg.norm(hips - (left + right) / 2, axis=-1))
    for _ in range(3):
        gap = (left - right) @ up
        support = np.where((np.abs(gap) < BOTH_DOWN * leg)[:, None], (left + right) / 2,
                           np.where((gap < 0)[:, None], left, right))
        directions = com - support
        up = _mean_direction(directions)
    ok = np.isfinite(directions).all(-1)
    unit = directions[ok] / np.linalg.norm(directions[ok], axis=-1, keepdims=True)
    return up, float(np.median(np.degrees(np.arccos(np.clip(unit @ up, -1, 1)))))


def _mean_direction(v: np.ndarray) -> np.ndarray | None:
    v = v[np.isfinite(v).all(-1)]
    if len(v) == 0:
        return None
    mean = (v / np.linalg.norm(v, axis=-1, keepdims=True)).mean(0)
    return mean / np.linalg.norm(mean)
