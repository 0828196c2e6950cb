"""One scene, end to end: spec -> Blender (RGB) -> proxy pass -> ground truth -> scene folder.

Reads as a recipe: sample the scene, hand the body and the spec to the Blender worker, cast
the proxies against the body and the occluders Blender built, project the joints, and write
everything into a temporary folder that is renamed into place only when complete.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from engine.geometry.camera import project_array
from engine.io.scene import SCHEMA_VERSION, scene_name, scene_writer, write_json
from synth.blender_process import BlenderWorker
from engine.proxy.raycast import ProxyRenderer
from synth.scene_spec import SceneSpec

GENERATOR = "diffproxy.synth"
VISIBLE_DEPTH_TOLERANCE_M = 0.15


def visibility(xy: np.ndarray, z: np.ndarray, seg: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """0 outside the image (or behind the camera), 1 hidden (occluded or behind the body's
    own surface by more than 15 cm), 2 visible."""
    h, w = seg.shape
    px = np.rint(np.nan_to_num(xy, nan=-1, posinf=-1, neginf=-1)).astype(np.int64)
    inside = (z > 0) & (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    vis = np.zeros(len(z), np.uint8)
    vis[inside] = 1
    ix, iy = px[inside, 0], px[inside, 1]
    seen = (seg[iy, ix] > 0) & (depth[iy, ix] > z[inside] - VISIBLE_DEPTH_TOLERANCE_M)
    vis[np.flatnonzero(inside)[seen]] = 2
    return vis


def versions(blender_version: str) -> dict:
    v = {"python": platform.python_version(), "blender": blender_version}
    for pkg in ("diffproxy", "numpy", "torch", "anny", "trimesh", "embreex"):
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    return v


def render_scene(spec: SceneSpec, arrays: dict[str, np.ndarray], worker: BlenderWorker, root: Path,
                 render: dict, seed: int, config_hash: str, sample_s: float = 0.0) -> Path:
    """Render one sampled scene into ``root/scene_XXXXXX`` (atomically); returns the folder."""
    final = Path(root) / scene_name(spec.index)
    t0 = time.perf_counter()
    with scene_writer(final) as tmp:
        reply = _run_blender(spec, arrays, worker, tmp, render)
        t_blender = time.perf_counter() - t0
        t1 = time.perf_counter()
        views, occluder_triangles = _proxy_pass(spec, arrays, tmp)
        t_proxy = time.perf_counter() - t1
        view_records = _write_arrays(tmp, spec, views)
        record = {
            "schema_version": SCHEMA_VERSION, "generator": GENERATOR, "seed": seed, "index": spec.index,
            "config_hash": config_hash, "body": spec.body,
            "cameras": spec.cameras, "views": view_records,
            "appearance": spec.appearance, "lighting": _portable(spec.lighting), "occluders": spec.occluders,
            "blender": {"appearance": reply["appearance"], "lighting": _portable(reply["lighting"]),
                        "occluder_triangles": occluder_triangles},
            "files": {"proxies": "proxies.npz", "gt": "gt.npz"},
            "proxy_semantics": "body surface cut by occluders and the ground, not by hair or clothing",
            "versions": versions(reply["blender_version"]),
            "timings": {"sample_s": sample_s, "blender_build_s": reply["timings"]["build_s"],
                        "rgb_render_s": reply["timings"]["render_s"], "blender_total_s": t_blender,
                        "proxy_pass_s": t_proxy, "total_s": sample_s + time.perf_counter() - t0},
        }
        write_json(tmp / "scene.json", record)
    return final


def _run_blender(spec: SceneSpec, arrays: dict[str, np.ndarray], worker: BlenderWorker, tmp: Path,
                 render: dict) -> dict:
    """Hand the body mesh and the spec to the Blender worker; it writes the RGB images and the
    occluder triangles into ``tmp``."""
    job_dir = tmp / "_job"
    job_dir.mkdir()
    placed = spec.placed
    np.savez(job_dir / "body.npz", vertices=placed.vertices.astype(np.float32), **arrays)
    body_info = {"height": float(np.ptp(placed.vertices[:, 2])), "ground_z": 0.0, "up": [0.0, 0.0, 1.0],
                 "joints": dict(zip(placed.joint_names, placed.joints.tolist())),
                 "keypoints": dict(zip(placed.keypoint_names, placed.keypoints.tolist())),
                 "family": spec.body.get("family")}
    job = {"out_dir": str(tmp), "body_npz": str(job_dir / "body.npz"), "body_info": body_info,
           "appearance": spec.appearance, "lighting": spec.lighting, "occluders": spec.occluders,
           "cameras": spec.cameras, "render": render}
    (job_dir / "job.json").write_text(json.dumps(job))
    reply = worker.run(job_dir / "job.json")
    shutil.rmtree(job_dir)
    return reply


def _proxy_pass(spec: SceneSpec, arrays: dict[str, np.ndarray], tmp: Path) -> tuple[list, int]:
    path = tmp / "occluder_triangles.npy"
    occluders = np.load(path)
    path.unlink()
    renderer = ProxyRenderer(spec.placed.vertices, arrays["faces"], arrays["face_part"], arrays["uv_coords"],
                             arrays["uv_faces"], occluders)
    views = [renderer.render(np.asarray(c["K"]), np.asarray(c["R_cam_world"]), np.asarray(c["t_cam_world"]),
                             c["width"], c["height"]) for c in spec.cameras]
    return views, len(occluders)


def _write_arrays(tmp: Path, spec: SceneSpec, views) -> list[dict]:
    depth = np.stack([np.where(np.isfinite(v.depth), v.depth, 0) for v in views]).astype(np.float32)
    np.savez_compressed(tmp / "proxies.npz", seg=np.stack([v.seg for v in views]), uv=np.stack([v.uv for v in views]),
                        depth=depth, body_mask=np.stack([v.body_mask for v in views]))
    gt, view_records = _ground_truth(spec, views)
    np.savez_compressed(tmp / "gt.npz", **gt)
    return view_records


def _portable(lighting: dict) -> dict:
    """The lighting record without the machine-specific file path (id + sha256 identify it)."""
    if "hdri" not in lighting:
        return lighting
    return {**lighting, "hdri": {k: v for k, v in lighting["hdri"].items() if k != "path"}}


def _ground_truth(spec: SceneSpec, views) -> tuple[dict, list[dict]]:
    p = spec.placed
    gt = {"vertices": p.vertices, "joints": p.joints, "keypoints": p.keypoints}
    kp2d, kpvis, j2d, jvis, records = [], [], [], [], []
    for i, (cam, view) in enumerate(zip(spec.cameras, views)):
        K, R, t = (np.asarray(cam[k]) for k in ("K", "R_cam_world", "t_cam_world"))
        xy, z = project_array(p.keypoints, K, R, t)
        kp2d.append(xy), kpvis.append(visibility(xy, z, view.seg, view.depth))
        xy, z = project_array(p.joints, K, R, t)
        j2d.append(xy), jvis.append(visibility(xy, z, view.seg, view.depth))
        vxy, vz = project_array(p.vertices, K, R, t)
        in_frame = (vz > 0) & (vxy[:, 0] > -0.5) & (vxy[:, 0] < cam["width"] - 0.5) & \
            (vxy[:, 1] > -0.5) & (vxy[:, 1] < cam["height"] - 0.5)
        records.append({"image": f"images/view_{i:02d}.png", "occluded_fraction": view.occluded_fraction,
                        "body_pixels": int(view.body_mask.sum()), "visible_body_pixels": int((view.seg > 0).sum()),
                        "vertices_in_frame": float(in_frame.mean())})
    gt.update(keypoints_2d=np.stack(kp2d), keypoints_visibility=np.stack(kpvis), joints_2d=np.stack(j2d),
              joints_visibility=np.stack(jvis))
    return gt, records
