"""A capture, frame by frame: each frame's fit starts from the previous frame's body, then
one shape and scale are kept for the whole sequence (the frames' mean: one person), the
pose and placement are filtered in time (``smoothing.py``) and the bodies rebuilt; scores of
how the bodies line up with the evidence (landmark reprojection, mask IoU) per frame and view;
the feet's contacts with the floor (``contacts.py``).

Detections are cached per frame (``detection_cache.py``), keyed on the footage and the
detector, so a rerun (other fit settings, an interrupted job) does not detect again."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.body.base import BodyParams
from engine.io.calibration import Calibration
from engine.pipeline.contacts import FootContacts, foot_contacts
from engine.pipeline.reconstructor import FrameResult, Reconstructor
from engine.errors import InputError
from engine.pipeline.detection_cache import DetectionCache
from engine.pipeline.smoothing import interpolate_linear, interpolate_rotvecs, smooth_linear, smooth_rotvecs
from engine.pipeline.world import WorldFrame
from engine.step_progress import Progress, no_progress

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
    landmark_reprojection_px: np.ndarray  # (T, N) median landmark error, NaN where no person
    mask_iou: np.ndarray  # (T, N)
    detections: list[list]  # (T, N) Detection or None
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    landmark_names: tuple[str, ...] = ()  # of ``landmarks``
    first_proxies: object = None  # the first frame's GeneratedProxies, when a generator ran (pictures)
    contacts: FootContacts | None = None  # heels' and toes' contacts with the floor (``contacts.py``)
    # set by engine.pipeline.job: what save() writes besides the arrays
    body: object = None  # the body model fitted
    summary: dict = field(default_factory=dict)  # report.json, the --json line
    previews: dict = field(default_factory=dict)  # frame -> {camera: RGB} for the overlays
    overlay_scale: float = 1.0

    def save(self, folder) -> dict:
        """Write what ``diffproxy reconstruct --out folder`` writes (fit.json last, atomically;
        ``folder``: a path or an open ``engine.io.outdir.OutputFolder``). -> {name: path}."""
        from engine.io.files import strict_json
        from engine.io.reconstruction import write_reconstruction
        from engine.proxy.part_table import build_part_table

        if self.body is None:
            raise InputError("Reconstruction.save: no body model attached (made by engine.reconstruct)")
        return write_reconstruction(folder, self, self.body, build_part_table(self.body), strict_json(self.summary),
                                    self.previews, overlay_scale=self.overlay_scale)


def reconstruct_frames(rec: Reconstructor, frames_images, calibration: Calibration, fps: float = 0.0,
                       cache: DetectionCache | None = None, keypoints=None, smooth_sigma: float = 1.0,
                       progress: Progress = no_progress, total: int | None = None,
                       strict: bool = False, world: WorldFrame | None = None) -> Reconstruction:
    """frames_images: iterable of (frame, {camera: RGB}); keypoints: callable(frame, calib) ->
    detections, or None to run the detector. A frame where nobody is found in any view is
    skipped with a note and its body interpolated from the frames around it (``strict``:
    refused, naming the frame). ``world``: units and up axis the user gave (a NaN unit or an
    empty axis is found from the person). ``progress("reconstruct", frames done, total)`` after
    each frame (``total``: the frame count; None: the frames so far)."""
    results: list[FrameResult] = []
    given, world = world, None
    frames, init, notes, empty, every = [], None, [], [], []
    calib = None
    t_detect = t_fit = t_proxies = 0.0
    for frame, images in frames_images:
        every.append(frame)
        calib, size_notes = rec.check_inputs(images, calibration)
        cams = list(images)
        t0 = time.perf_counter()
        detections = cache.load(frame, cams) if cache is not None else None
        if detections is None:
            detections = keypoints(frame, calib) if keypoints is not None else rec.detect(images, calib)
            if cache is not None:
                cache.save(frame, cams, detections)
        t_detect += time.perf_counter() - t0
        if all(d is None for d in detections):
            if strict:
                raise InputError(f"frame {frame}: no person found in any view ({', '.join(cams)}) and --strict is set")
            empty.append((frame, detections))
            progress("reconstruct", len(every), total or len(every))
            continue
        if world is None:
            world = _world(rec, detections, calib, given)
        if rec.options.refine_cameras and not results:  # refined on the first frame, then kept
            result, world, calibration, note = _refine_cameras(rec, images, calib, world, detections)
            calib = calibration  # at the images' sizes, whichever was kept
            notes.append(note)
        else:
            with _options(rec, refine_cameras=False):
                result, world = rec.fit_frame(images, calib, world=world, detections=detections, init=init)
        t_fit += result.timings["fit_s"]
        t_proxies += result.timings["proxies_s"]
        init = result.fit.params
        results.append(result)
        frames.append(frame)
        notes += [n for n in dict.fromkeys(size_notes + result.notes) if n not in notes]
        progress("reconstruct", len(every), total or len(every))
    if not every:
        raise ValueError("no frame to reconstruct")
    if not results:
        shown = ", ".join(str(f) for f in every[:10]) + (" ..." if len(every) > 10 else "")
        raise InputError(f"no person found in any view ({', '.join(cams)}) in any frame ({shown})")
    relabelled = {}
    for r in results:
        for name in r.relabelled:
            relabelled[name] = relabelled.get(name, 0) + 1
    if relabelled:
        listed = ", ".join(f"{name} in {count} of {len(results)} frame(s)" for name, count in relabelled.items())
        notes.append(f"left and right exchanged in {listed}: the detector labelled the person as facing that "
                     f"camera, which the other views and the body's anatomy contradict (a view from behind)")
    dropped, swapped = (sum(r.disagreeing[i] for r in results) for i in (0, 1))
    if dropped or swapped:
        notes.append(f"{dropped} landmark observation(s) the views disagree on were left out and {swapped} left/right "
                     f"swap(s) undone, over {len(results)} frame(s)")
    t0 = time.perf_counter()
    params = _stack([r.fit.params for r in results])
    if empty:  # the frames without a person, between (or beyond) the fitted ones
        listed = ", ".join(str(f) for f, _ in empty)
        notes.append(f"no person found in any view in frame(s) {listed}: skipped, the body there is interpolated "
                     f"from the frames around it (--strict refuses)")
        params = BodyParams(interpolate_rotvecs(params.global_orient, frames, every),
                            interpolate_linear(params.transl, frames, every),
                            interpolate_rotvecs(params.body_pose, frames, every),
                            interpolate_linear(params.shape, frames, every),
                            interpolate_linear(params.scale, frames, every))
    by_frame = dict(empty) | {f: r.detections for f, r in zip(frames, results)}
    frames = every
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
    detections = [by_frame[f] for f in frames]
    cams = rec.engine_cameras(calib, world)
    reproj = np.stack([_reprojection(rec, d, calib, cams, L) for d, L in zip(detections, landmarks)])
    iou = np.stack([_mask_iou(rec, d, calib, cams, V) for d, V in zip(detections, vertices)])
    timings = {"seconds_detect": t_detect, "seconds_proxies": t_proxies, "seconds_fit": t_fit,
               "seconds_score": time.perf_counter() - t0}
    return Reconstruction(frames, fps, list(calib.names()), calib, world, params.detach(), vertices,
                          out.joints.double().cpu().numpy(), landmarks, reproj, iou, detections, timings, notes,
                          rec.table.names, results[0].proxies, foot_contacts(landmarks, rec.table.names, fps))


def _world(rec: Reconstructor, detections: list, calib: Calibration, given: WorldFrame | None) -> WorldFrame:
    """The user's world: what they gave, the rest found from the person in this frame."""
    from dataclasses import replace

    if given is not None and np.isfinite(given.units_per_metre) and given.up_axis:
        return given
    found = rec.find_world([detections], calib)
    if given is None:
        return found
    if np.isfinite(given.units_per_metre):
        found = replace(found, units_per_metre=given.units_per_metre, unit=given.unit)
    if given.up_axis:
        found = replace(found, up_axis=given.up_axis, up_angle_deg=0.0)
    return found


@contextmanager
def _options(rec: Reconstructor, **changes):
    from dataclasses import replace

    before = rec.options
    rec.options = replace(before, **changes)
    try:
        yield
    finally:
        rec.options = before


def _refine_cameras(rec: Reconstructor, images, calib: Calibration, world, detections):
    """The first frame (``calib``: checked, at the images' sizes) fitted twice, with the calibration as given and with the cameras refined.
    The refined cameras are moved back onto the calibration by the one rigid motion that best
    aligns them (with the body: pixels are unchanged), so that the world stays the
    calibration's and a camera left out still sees the body where the calibration says; they
    are kept only when they bring the landmarks closer. -> (result, world, calibration, note)."""
    with _options(rec, refine_cameras=False):
        given, world = rec.fit_frame(images, calib, world=world, detections=detections)
    with _options(rec, refine_cameras=True):
        refined, world = rec.fit_frame(images, calib, world=world, detections=detections)
    before, after = (float(np.nanmedian(r.landmark_reprojection_px)) for r in (given, refined))
    if not after < before - 0.25:
        return given, world, calib, (
            f"--refine-cameras: the refined cameras did not bring the landmarks closer on the first frame "
            f"({after:.1f} px against {before:.1f} px with the calibration): the calibration is kept")
    cams, params, moved = _anchored(refined.fit.cameras, rec.engine_cameras(calib, world), refined.fit.params)
    refined.fit.cameras, refined.fit.params = cams, params
    return refined, world, refined_calibration(calib, cams, world), (
        f"cameras refined on the first frame (rotation, position, focal length; the landmarks {before:.1f} -> "
        f"{after:.1f} px) and kept for the others, the rig held on the calibration (its common motion of "
        f"{moved:.3f} m undone); fit.json holds the refined cameras")


def _anchored(refined, given, params: BodyParams):
    """The refined cameras and the body moved together by the rigid motion (R_g, t_g) that best
    maps the refined cameras onto the given ones (orientations: the chordal mean; centres: their
    mean offset). -> (cameras, params, how far the cameras' centre moved)."""
    import roma

    from engine.geometry.camera import Cameras

    f = torch.float64
    R_r, t_r = refined.R_cam_world.to(f), refined.t_cam_world.to(f)
    R_c, t_c = given.R_cam_world.to(f), given.t_cam_world.to(f)
    R_g = roma.special_procrustes(torch.einsum("nji,njk->ik", R_c, R_r))  # sum R_c^T R_r
    centre_r = -torch.einsum("nji,nj->ni", R_r, t_r)
    centre_c = -torch.einsum("nji,nj->ni", R_c, t_c)
    t_g = (centre_c - centre_r @ R_g.T).mean(0)
    R_new = R_r @ R_g.T
    centre_new = centre_r @ R_g.T + t_g
    t_new = -torch.einsum("nij,nj->ni", R_new, centre_new)
    cams = Cameras(refined.K.to(f), R_new, t_new, refined.widths, refined.heights)
    orient = roma.rotmat_to_rotvec(R_g @ roma.rotvec_to_rotmat(params.global_orient.to(f)))
    transl = (params.transl.to(f) @ R_g.T + t_g).to(params.transl.dtype)
    moved = BodyParams(orient.to(params.global_orient.dtype), transl, params.body_pose, params.shape, params.scale)
    return cams, moved, float((centre_new.mean(0) - centre_r.mean(0)).norm())


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
    xy, score, _, _ = rec.agreed_landmarks(detections, calib)
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
