"""What a finished reconstruction says about itself: the summary (``report.json``, the
``--json`` line), the notes on the world, the problems that show the fit cannot be right, and
the errors against a rendered scene's ground truth."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def world_notes(world, units, up) -> list[str]:
    if world.source == "assumed":
        return [f"units and up axis assumed, not found: {world.unit} and {world.up_axis} up (one view shows the "
                f"person, so nothing can be measured); set them with --units and --up"]
    if units is not None or up is not None:
        return [f"world: {world.unit or world.units_per_metre} ({world.units_per_metre:g} units per metre), "
                f"{world.up_axis} up, as given" + ("" if (units and up) else " or found")]
    return []


def far_off(result) -> list[str]:
    """Problems a finished fit shows: the body far from the evidence in most views (landmarks
    over a fifth of the person's height off), or the person behind a camera that sees them.
    Each names the likely cause."""
    problems = []
    ratios = []
    for t, dets in enumerate(result.detections):
        for v, d in enumerate(dets):
            px = result.landmark_reprojection_px[t, v]
            if d is not None and np.isfinite(px) and d.height > 0:
                ratios.append(px / d.height)
    centre = result.world.points_to_user(result.vertices.mean(1)).mean(0)
    behind = [c.name for v, c in enumerate(result.calibration.cameras)
              if (c.R_cam_world @ centre + c.t_cam_world)[2] <= 0
              and any(dets[v] is not None for dets in result.detections)]
    if behind:
        problems.append(f"the person is behind camera(s) {', '.join(behind)}, which see them: the calibration is "
                        f"probably camera-to-world where world-to-camera is expected (invert R and t), or its "
                        f"cameras are mirrored")
    if ratios and np.median(ratios) > 0.2:
        problems.append(f"the body is far from the detections (landmarks {100 * np.median(ratios):.0f}% of the "
                        f"person's height off, median): the calibration does not match the footage (cameras "
                        f"swapped, camera-to-world given instead of world-to-camera, another capture's)")
    return problems


def summary(result, t_start: float) -> dict:
    px = result.landmark_reprojection_px
    return {"frames": len(result.frames), "views": len(result.cameras), "cameras": result.cameras,
            "fps": result.fps, "seconds_detect": result.timings["seconds_detect"],
            "seconds_proxies": result.timings["seconds_proxies"], "seconds_fit": result.timings["seconds_fit"],
            "seconds_per_frame": (time.perf_counter() - t_start) / len(result.frames),
            "landmark_reprojection_px": _nan(np.nanmedian, _nan(np.nanmedian, px, axis=0)),
            "landmark_reprojection_px_per_view": list(_nan(np.nanmedian, px, axis=0)),
            "mask_iou": _nan(np.nanmean, result.mask_iou),
            "mask_iou_per_view": list(_nan(np.nanmean, result.mask_iou, axis=0)),
            **result.world.record(), **_contacts(result), "notes": result.notes}


def _contacts(result) -> dict:
    """The feet's contacts, short: the floor's height along the up axis (user units) and the
    frames each heel and toe is in contact."""
    c = getattr(result, "contacts", None)
    if c is None:
        return {}
    return {"floor_height": c.floor * result.world.units_per_metre, "frames_in_contact": c.frames_in_contact()}


def _nan(fn, x, axis=None):
    """``fn`` (nanmedian, nanmean) without numpy's warning on all-NaN slices (a view with no person)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(np.asarray(x, dtype=np.float64), axis=axis)


def ground_truth(input_dir: Path, result, rec) -> dict:
    """Errors against a rendered scene's ground truth (same body model), else nothing: MPVPE on
    the vertices and MPJPE on the body model's joints (``evaluate``'s MPJPE is on the 33
    keypoints: ``keypoint_mpjpe_mm``)."""
    import torch

    from engine.io.scene import read_scene
    from engine.metrics import mpjpe, mpvpe, pa_mpjpe, pa_mpvpe

    if not (input_dir / "scene.json").exists():
        return {}
    scene = read_scene(input_dir)
    if scene.gt is None or scene.record.get("body", {}).get("model") != rec.body.name:
        return {}
    pred_v = torch.as_tensor(result.world.points_to_user(result.vertices[:1]))
    pred_j = torch.as_tensor(result.world.points_to_user(result.joints[:1]))
    gt_v = torch.as_tensor(scene.gt["vertices"])[None]
    gt_j = torch.as_tensor(scene.gt["joints"])[None]
    return {"mpvpe_mm": float(mpvpe(pred_v, gt_v)), "pa_mpvpe_mm": float(pa_mpvpe(pred_v, gt_v)),
            "mpjpe_mm": float(mpjpe(pred_j, gt_j)), "pa_mpjpe_mm": float(pa_mpjpe(pred_j, gt_j))}
