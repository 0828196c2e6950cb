"""``diffproxy validate``: is every scene complete, and do its proxies name exactly the body
surface seen at each pixel?

For every foreground pixel, ``(part, u, v)`` goes through the UV lookup of the scene's body
model to a face and barycentric coordinates, then to a 3D point on the ground-truth body
rebuilt from the recorded parameters; that point must project back onto the pixel centre
(the fractions within 0.5 px and 1 px are reported) and lie at the recorded depth (the seg
names the surface the camera sees, not one behind it). The rebuilt vertices must match the
stored ones, so the parameters alone reproduce the ground truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import InputError
from engine.geometry.camera import project_array
from engine.io.files import read_rgb
from engine.io.scene import (Scene, dataset_record, dataset_smplx_model, read_scene, scene_config_hashes,
                             scene_folders)
from synth.subject import params_from_dict
from engine.proxy import BodyCache, surface_points
from engine.step_progress import Progress, no_progress

DEPTH_TOLERANCE_M = 1e-3
VERTEX_TOLERANCE_M = 1e-5
MIN_WITHIN_1PX = 0.999
GT_FLOAT_KEYS = ("vertices", "joints", "keypoints", "keypoints_2d", "joints_2d")


@dataclass
class SceneReport:
    name: str
    complete: bool
    error: str = ""
    foreground_px: int = 0
    within_0p5px: int = 0
    within_1px: int = 0
    max_error_px: float = 0.0
    lookup_failures: int = 0
    depth_mismatches: int = 0
    vertex_rebuild_error_m: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.complete and not self.problems


def check_scene(folder: Path, bodies: BodyCache) -> SceneReport:
    report = SceneReport(name=folder.name, complete=False)
    try:
        scene = read_scene(folder)
        if scene.proxies is None or scene.gt is None:
            raise InputError(f"{folder / 'scene.json'}: field 'files' must list 'proxies' and 'gt'")
    except InputError as e:
        report.error = str(e)
        return report
    report.complete = True
    try:
        _check_contents(scene, bodies, report)
    except Exception as e:  # noqa: BLE001 (a scene that breaks the check is a bad scene, named)
        report.problems.append(f"check failed: {e}" if isinstance(e, InputError) else
                               f"check failed: {type(e).__name__}: {e}")
    return report


def _check_files(scene: Scene) -> list[str]:
    """Non-finite values in the arrays, and images that do not decode or have the wrong size."""
    problems = []
    files = scene.record["files"]
    for name, arrays, keys in ((files["gt"], scene.gt, GT_FLOAT_KEYS),
                               (files["proxies"], scene.proxies, ("uv", "depth"))):
        for key in keys:
            bad = int((~np.isfinite(arrays[key])).sum())
            if bad:
                problems.append(f"{name}: field '{key}' holds {bad} NaN or infinite value(s)")
    for v, cam in enumerate(scene.record["cameras"]):
        try:
            rgb = read_rgb(scene.image_path(v))
        except InputError as e:
            problems.append(str(e))
            continue
        if rgb.shape[:2] != (cam["height"], cam["width"]):
            problems.append(f"{scene.image_path(v)}: {rgb.shape[1]}x{rgb.shape[0]} px, the camera says "
                            f"{cam['width']}x{cam['height']}")
    return problems


def _check_contents(scene: Scene, bodies: BodyCache, report: SceneReport) -> None:
    report.problems += _check_files(scene)
    body, proxy = bodies.get(scene.record["body"]["model"])
    with torch.no_grad():
        vertices = body(params_from_dict(scene.record["body"]["params"])).vertices
    diff = np.abs(vertices[0].numpy() - scene.gt["vertices"])
    report.vertex_rebuild_error_m = float(diff[np.isfinite(diff)].max(initial=0.0))  # NaN: reported above
    if report.vertex_rebuild_error_m > VERTEX_TOLERANCE_M:
        report.problems.append(f"vertices rebuilt from the parameters differ by {report.vertex_rebuild_error_m:.2e} m")
    K, R, t, sizes = scene.camera_arrays()
    for v in range(scene.num_views):
        seg, uv, depth = scene.proxies["seg"][v], scene.proxies["uv"][v], scene.proxies["depth"][v]
        if seg.shape != (sizes[v][1], sizes[v][0]):
            report.problems.append(f"view {v}: seg is {seg.shape}, camera says {sizes[v][1]}x{sizes[v][0]}")
            continue
        ys, xs = np.nonzero(seg & np.isfinite(uv).all(axis=-1))  # non-finite uv: reported by _check_files
        if len(ys) == 0:
            continue
        hit = proxy.lookup.query(torch.as_tensor(seg[ys, xs]).long(), torch.as_tensor(uv[ys, xs]).double())
        ok = hit.valid.numpy()
        report.foreground_px += len(ys)
        report.lookup_failures += int((~ok).sum())
        points = surface_points(vertices, body.faces, hit.face[hit.valid], hit.bary[hit.valid])[0].numpy()
        xy, z = project_array(points, K[v], R[v], t[v])
        err = np.linalg.norm(xy - np.stack([xs[ok], ys[ok]], axis=1), axis=1)
        report.within_0p5px += int((err <= 0.5).sum())
        report.within_1px += int((err <= 1.0).sum())
        report.max_error_px = max(report.max_error_px, float(err.max(initial=0.0)))
        report.depth_mismatches += int((np.abs(z - depth[ys[ok], xs[ok]]) > DEPTH_TOLERANCE_M).sum())
    if report.foreground_px == 0:
        report.problems.append("no foreground proxy pixel in any view")
    elif report.within_1px < MIN_WITHIN_1PX * report.foreground_px:
        report.problems.append(f"only {report.within_1px / report.foreground_px:.4f} of proxy pixels within 1 px")
    if report.lookup_failures:
        report.problems.append(f"{report.lookup_failures} proxy pixels have no surface point for their (part, u, v)")
    if report.depth_mismatches > (1 - MIN_WITHIN_1PX) * max(report.foreground_px, 1):
        report.problems.append(f"{report.depth_mismatches} proxy pixels name a surface off the recorded depth")


def expected_config_hash(root: Path, hashes: dict[str, str | None]) -> tuple[str | None, str]:
    """The config hash every scene must carry: ``dataset.json``'s, else (it is missing) the one
    most scenes carry when they disagree; None when there is nothing to compare."""
    found = dataset_record(root)
    if found is not None:
        return found[1].get("config_hash"), str(found[0])
    values = list(hashes.values())
    if len(set(values)) < 2:
        return None, ""
    return max(set(values), key=values.count), "most scenes (dataset.json is missing)"


def validate(root: Path, smplx_model: str | None = None, progress: Progress = no_progress) -> dict:
    """Check every scene under ``root``; ``progress("validate", scenes checked, scenes)`` as it goes."""
    root = Path(root)
    bodies = BodyCache(smplx_model or dataset_smplx_model(root), dtype=torch.float64)
    reports = []
    folders = scene_folders(root)
    if not folders:
        raise InputError(f"{root}: no scene_* folders (nothing to validate)")
    hashes = scene_config_hashes(folders)
    expected, source = expected_config_hash(root, hashes)
    progress("validate", 0, len(folders))
    for folder in folders:
        reports.append(check_scene(folder, bodies))
        if expected is not None and hashes[folder.name] != expected:
            reports[-1].problems.append(f"config_hash {hashes[folder.name]} differs from {source}'s {expected}: "
                                        f"a scene of another config")
        progress("validate", len(reports), len(folders))
    fg = sum(r.foreground_px for r in reports)
    interrupted = sorted(p.name for p in Path(root).glob(".tmp-scene_*"))
    summary = {
        "scenes": len(reports), "complete": sum(r.complete for r in reports),
        "ok": bool(reports) and all(r.ok for r in reports),
        "foreground_px": fg,
        "proxy_px_within_0p5px": sum(r.within_0p5px for r in reports) / fg if fg else 0.0,
        "proxy_px_within_1px": sum(r.within_1px for r in reports) / fg if fg else 0.0,
        "max_error_px": max((r.max_error_px for r in reports), default=0.0),
        "max_vertex_rebuild_error_m": max((r.vertex_rebuild_error_m for r in reports), default=0.0),
        "bad_scenes": [{"scene": r.name, "error": r.error, "problems": r.problems} for r in reports if not r.ok],
        "interrupted_temporaries": interrupted,
    }
    return {"summary": summary, "scenes": [asdict(r) for r in reports]}
