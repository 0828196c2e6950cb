"""``diffproxy evaluate --proxies none`` and ``--proxies model``: run the product's path on
rendered scenes (the detector on the renders, the fit to its landmarks and masks, and with a
generator loaded in the ``Reconstructor``, to the proxies it samples) and score the bodies
against the scenes' ground truth (MPVPE, PA-MPVPE, and MPJPE, PA-MPJPE on the body model's 33
keypoints, in mm: the keys of the proxy evaluation); with a generator also the sampled proxies
against the exact ones in the same crops (``seg_miou``, ``surface_error_mm``). A scene's world
is known (metres, Z up) and is given to the fit; the units and up axis that footage would get
(found from the person) are reported beside (``world_found``: scenes where that gives metres
and +Z). The summary carries every scene's errors (``per_scene``) beside the means and medians."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from engine.errors import InputError
from engine.io.calibration import read_calibration
from engine.io.files import read_rgb
from engine.io.scene import read_scene, scene_folders
from engine.metrics import mpjpe, mpvpe, pa_mpjpe, pa_mpvpe
from engine.pipeline.world import WorldFrame
from engine.step_progress import Progress, no_progress

METRICS = ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm")
PER_SCENE = ("scene", "views", "found", "mpvpe_mm", "pa_mpvpe_mm", "keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm")


def per_scene(rows: list[dict]) -> list[dict]:
    """The summary's ``per_scene``: each scored scene's name, views (and with the detector, the
    views it found the person in) and errors in mm, the keys of its row (``PER_SCENE``)."""
    return [{k: r[k] for k in PER_SCENE if k in r} for r in rows]


def score_scene(folder: Path, rec, num_views: int | None) -> dict:
    scene = read_scene(folder)
    if scene.gt is None:
        raise InputError(f"{folder}: no ground truth (gt.npz) to score against")
    n = scene.num_views if num_views is None else min(num_views, scene.num_views)
    names = scene.camera_names[:n]
    calib = read_calibration(Path(folder) / "scene.json").subset(names)
    images = {name: read_rgb(scene.image_path(i)) for i, name in enumerate(names)}
    t0 = time.perf_counter()
    sized, _ = rec.check_inputs(images, calib)
    detections = rec.detect(images, sized)
    seconds_detect = time.perf_counter() - t0
    found = rec.find_world([detections], sized)  # reported: what footage would get
    result, world = rec.fit_frame(images, sized, world=WorldFrame(1.0, "m", "+Z", 0.0), detections=detections)
    seconds = time.perf_counter() - t0
    params = result.fit.params
    with torch.no_grad():
        out = rec.body(params.to(dtype=rec.body.dtype))
    to_user = lambda x: torch.as_tensor(world.points_to_user(x[0].double().cpu().numpy()))[None]  # noqa: E731
    gt = {k: torch.as_tensor(scene.gt[k])[None] for k in ("vertices", "keypoints")}
    v, k = to_user(out.vertices), to_user(out.keypoints)
    row = {"scene": Path(folder).name, "views": n, "found": sum(d is not None for d in result.detections),
           "relabelled": result.relabelled,
           "mpvpe_mm": float(mpvpe(v, gt["vertices"])), "pa_mpvpe_mm": float(pa_mpvpe(v, gt["vertices"])),
           "keypoint_mpjpe_mm": float(mpjpe(k, gt["keypoints"])),
           "keypoint_pa_mpjpe_mm": float(pa_mpjpe(k, gt["keypoints"])),
           "residual_px": float(np.nanmedian(result.landmark_reprojection_px)), "seconds": seconds,
           "seconds_detect": seconds_detect, "seconds_fit": result.timings["fit_s"], **found.record()}
    if rec.generator is not None:
        row.update(proxy_quality(result.proxies, scene, rec.body))
    return row


def proxy_quality(proxies, scene, body) -> dict:
    """The sampled proxies against the scene's exact ones cast into the same crops."""
    from engine.geometry.crop import crop_proxies
    from engine.proxy import BodyProxy
    from engine.proxy.quality import seg_miou, surface_error

    if proxies is None:
        return {"seg_miou": math.nan, "surface_error_mm": math.nan, "seconds_proxies": math.nan}
    S, views = proxies.proxy.seg.shape[-1], proxies.views
    gt_seg, gt_uv = crop_proxies(torch.as_tensor(scene.proxies["seg"][views]),
                                 torch.as_tensor(scene.proxies["uv"][views]), proxies.boxes, S)
    verts = torch.as_tensor(scene.gt["vertices"], dtype=torch.float64)
    err, _ = surface_error(proxies.proxy.seg, proxies.proxy.uv, gt_seg.to(torch.uint8), gt_uv, verts,
                           body.faces.cpu(), BodyProxy.for_body(body).lookup)
    return {"seg_miou": float(seg_miou(proxies.proxy.seg, gt_seg)), "surface_error_mm": float(err),
            "seconds_proxies": proxies.seconds}


def evaluate_evidence(dataset: Path, rec, num_views: int | None = None, max_scenes: int | None = None,
                      progress: Progress = no_progress) -> dict:
    """Every scene's row and the summary; ``progress("evaluate", scenes done, scenes)`` as it goes
    (a failed scene counts as done)."""
    folders = scene_folders(dataset)[:max_scenes]
    if not folders:
        raise InputError(f"{dataset}: no scene folder (scene_*) found")
    rows, failed = [], []
    progress("evaluate", 0, len(folders))
    for done, folder in enumerate(folders, 1):
        try:
            row = score_scene(folder, rec, num_views)
        except (InputError, ValueError) as e:  # a scene the detector finds no one in, say
            failed.append({"scene": Path(folder).name, "error": str(e)})
        else:
            rows.append(row)
        progress("evaluate", done, len(folders))
    summary = {"proxies": "none" if rec.generator is None else "model", "scenes": len(rows), "views": num_views,
               "failed": len(failed), "failed_scenes": failed}
    if rec.generator is not None:
        g = rec.generator
        summary.update(samples=g.options.samples, steps=g.options.steps, uniform_weights=g.uniform_weights,
                       evidence_channels=g.model.config.evidence_channels)
    extra = ("seg_miou", "surface_error_mm", "seconds_proxies") if rec.generator is not None else ()
    for key in (*METRICS, "residual_px", "seconds", *extra):
        values = [r[key] for r in rows if math.isfinite(r[key])]
        summary[key if key != "seconds" else "seconds_per_scene"] = float(np.mean(values)) if values else math.nan
    for key in METRICS:
        values = [r[key] for r in rows]
        summary[f"median_{key}"] = float(np.median(values)) if values else math.nan
    summary["world_found"] = sum(r["unit"] == "m" and r["up_axis"] == "+Z" for r in rows)
    summary["per_scene"] = per_scene(rows)
    return {"scenes": rows, "summary": summary}
