"""A capture, frame by frame: each frame's fit starts from the previous frame's body, then
one shape and scale are kept for the whole sequence (the frames' mean: one person), the
pose and placement are filtered in time (``smoothing.py``) and the bodies rebuilt; scores of
how the bodies line up with the evidence (landmark reprojection, mask IoU) per frame and view.

Detections are cached per frame in ``cache`` (``frame_000012.npz``), so a rerun (other fit
settings, an interrupted job) does not detect again."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.body.base import BodyParams
from engine.io.calibration import Calibration
from engine.pipeline.reconstructor import FrameResult, Reconstructor
from engine.pipeline.smoothing import smooth_linear, smooth_rotvecs
from engine.pipeline.world import WorldFrame

IOU_HEIGHT = 160  # silhouettes for the mask IoU are cast at this height


@dataclass
class Reconstruction:
    frames: list[int]
    fps: float
    cameras: list[str]
    calibration: Calibration  # at the images' sizes
    world: WorldFrame
    params: BodyParams  # (T,) engine frame (metres, Z up)
    vertices: np.ndarray  # (T, V, 3) engine frame
    joints: np.ndarray  # (T, J, 3)
    landmarks: np.ndarray  # (T, L, 3)
    keypoint_reprojection_px: np.ndarray  # (T, N) median landmark error, NaN where no person
    mask_iou: np.ndarray  # (T, N)
    detections: list[list]  # (T, N) Detection or None
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    landmark_names: tuple[str, ...] = ()  # of ``landmarks``
    first_proxies: object = None  # the first frame's GeneratedProxies, when a generator ran (pictures)


def _cached_detections(cache: Path | None, frame: int, cameras: list[str]):
    from engine.detect.types import Detection

    path = None if cache is None else Path(cache) / f"frame_{frame:06d}.npz"
    if path is None or not path.exists():
        return None, path
    with np.load(path, allow_pickle=False) as z:
        if list(z["cameras"]) != cameras:
            return None, path
        out = []
        for i, c in enumerate(cameras):
            keys = {k[len(f"{i}_"):]: z[k] for k in z.files if k.startswith(f"{i}_")}
            out.append(Detection.from_npz_dict(keys, f"{path}:{c}") if keys else None)
    return out, path


def _save_detections(path: Path | None, detections: list, cameras: list[str]) -> None:
    if path is None:
        return
    arrays = {"cameras": np.array(cameras)}
    for i, d in enumerate(detections):
        if d is not None:
            arrays.update({f"{i}_{k}": v for k, v in d.to_npz_dict().items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def reconstruct_frames(rec: Reconstructor, frames_images, calibration: Calibration, fps: float = 0.0,
                       cache: Path | None = None, keypoints=None, smooth_sigma: float = 1.0,
                       progress=lambda stage, done, total: None, total: int | None = None) -> Reconstruction:
    """frames_images: iterable of (frame, {camera: RGB}); keypoints: callable(frame, calib) ->
    detections, or None to run the detector."""
    results: list[FrameResult] = []
    frames, world, init, notes = [], None, None, []
    calib = None
    t_detect = t_fit = t_proxies = 0.0
    for frame, images in frames_images:
        calib, size_notes = rec.check_inputs(images, calibration)
        cams = list(images)
        t0 = time.perf_counter()
        detections, path = _cached_detections(cache, frame, cams)
        if detections is None:
            detections = keypoints(frame, calib) if keypoints is not None else rec.detect(images, calib)
            _save_detections(path, detections, cams)
        t_detect += time.perf_counter() - t0
        result, world = rec(images, calibration, world=world, detections=detections, init=init)
        t_fit += result.timings["fit_s"]
        t_proxies += result.timings["proxies_s"]
        init = result.fit.params
        if rec.options.refine_cameras and not results:  # refined on the first frame, then kept
            calibration = calib = refined_calibration(calib, result.fit.cameras, world)
            notes.append("cameras refined on the first frame (rotation, position, focal length) and kept for "
                         "the others; fit.json holds the refined cameras")
        results.append(result)
        frames.append(frame)
        notes += [n for n in dict.fromkeys(size_notes + result.notes) if n not in notes]
        progress("fit", len(results), total)
    if not results:
        raise ValueError("no frame to reconstruct")
    dropped, swapped = (sum(r.disagreeing[i] for r in results) for i in (0, 1))
    if dropped or swapped:
        notes.append(f"{dropped} landmark observation(s) the views disagree on were left out and {swapped} left/right "
                     f"swap(s) undone, over {len(results)} frame(s)")
    t0 = time.perf_counter()
    params = _stack([r.fit.params for r in results])
    # one person, one body: the frames' mean shape and scale for every frame (the rig of a
    # sequence has one skeleton; a shape drifting with the pose would move its vertices by cm)
    params.shape[:] = params.shape.mean(0, keepdim=True)
    params.scale[:] = params.scale.mean(0, keepdim=True)
    if len(results) >= 2 and smooth_sigma > 0:
        f, sg = frames, smooth_sigma
        params = BodyParams(smooth_rotvecs(params.global_orient, f, sg), smooth_linear(params.transl, f, sg),
                            smooth_rotvecs(params.body_pose, f, sg), smooth_linear(params.shape, f, sg),
                            smooth_linear(params.scale, f, sg))
    with torch.no_grad():
        out = rec.body(params.to(dtype=rec.body.dtype))
    vertices = out.vertices.double().cpu().numpy()
    landmarks = rec.table.positions(vertices)
    detections = [r.detections for r in results]
    cams = rec.engine_cameras(calib, world)
    reproj = np.stack([_reprojection(rec, d, calib, cams, L) for d, L in zip(detections, landmarks)])
    iou = np.stack([_mask_iou(rec, d, calib, cams, V) for d, V in zip(detections, vertices)])
    timings = {"seconds_detect": t_detect, "seconds_proxies": t_proxies, "seconds_fit": t_fit,
               "seconds_score": time.perf_counter() - t0}
    return Reconstruction(frames, fps, list(calib.names()), calib, world, params.detach(), vertices,
                          out.joints.double().cpu().numpy(), landmarks, reproj, iou, detections, timings, notes,
                          rec.table.names, results[0].proxies)


def refined_calibration(calib: Calibration, cams, world: WorldFrame) -> Calibration:
    """The calibration with each camera's K, R, t replaced by the fit's refined ones (engine
    frame -> the user's); distortion and image size kept."""
    from dataclasses import replace

    out = []
    for i, c in enumerate(calib.cameras):
        R, t = world.camera_to_user(cams.R_cam_world[i].double().cpu().numpy(),
                                    cams.t_cam_world[i].double().cpu().numpy())
        out.append(replace(c, K=cams.K[i].double().cpu().numpy(), R_cam_world=R, t_cam_world=t))
    return Calibration(out, calib.source, calib.format)


def _stack(params: list[BodyParams]) -> BodyParams:
    return BodyParams(*(torch.cat([getattr(p, k).detach() for p in params])
                        for k in ("global_orient", "transl", "body_pose", "shape", "scale")))


def _reprojection(rec: Reconstructor, detections, calib, cams, landmarks: np.ndarray) -> np.ndarray:
    xy, score, _ = rec.agreed_landmarks(detections, calib)
    px, _ = cams.project(torch.as_tensor(landmarks))
    err = np.linalg.norm(px.numpy() - xy, axis=-1)
    return np.array([np.median(err[v][score[v] > 0.5]) if (score[v] > 0.5).any() else np.nan
                     for v in range(len(detections))])


def _mask_iou(rec: Reconstructor, detections, calib, cams, vertices: np.ndarray) -> np.ndarray:
    import cv2

    from engine.proxy.raycast import SilhouetteCaster

    masks = rec.masks(detections, calib)
    cast = SilhouetteCaster(vertices, rec.body.faces.cpu().numpy())
    out = []
    for v, m in enumerate(masks):
        if m is None:
            out.append(np.nan)
            continue
        f = IOU_HEIGHT / m.shape[0]
        small = cv2.resize(m.numpy(), (round(m.shape[1] * f), IOU_HEIGHT), interpolation=cv2.INTER_AREA) > 0.5
        c = calib.cameras[v].scaled(small.shape[1], small.shape[0])
        body = cast(c.K, cams.R_cam_world[v].numpy(), cams.t_cam_world[v].numpy(), small.shape[1], small.shape[0])
        union = (small | body).sum()
        out.append(float((small & body).sum() / union) if union else np.nan)
    return np.array(out)
