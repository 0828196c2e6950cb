"""The product's path from footage to a body, as one pipeline object (after diffusers'
pipelines): ``Reconstructor.from_pretrained(...)`` loads the body model, its landmark table,
the detector and (optionally) the proxy generator once; calling it on one instant's images
runs the numbered steps:

1. check the inputs (cameras named in the calibration, image sizes: a size that differs
   from the calibration is rescaled when the aspect agrees within 1%, else refused);
2. detect the person in every view (MediaPipe, the one consistent across views) or take
   the given detections (precomputed keypoints);
3. the evidence: landmarks with the lens distortion removed, masks, in the engine's frame
   (metres, Z up: ``world.py``);
4. dense proxies, when a generator is loaded: K samples per view, aggregated, as
   correspondences;
5. the fit (``engine.fitting.fit``) to the landmarks, masks and proxies, from the
   triangulated landmarks or the previous frame's body.

Sequences, outputs and scores live beside it (``sequence.py``, ``engine.io.reconstruction``).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from engine.body.base import BodyModel, BodyParams
from engine.detect.pose_models import DEFAULT_POSE_MODEL
from engine.errors import InputError
from engine.fitting.fit import fit
from engine.fitting.lift import triangulate_landmarks
from engine.fitting.observations import Observations
from engine.fitting.types import FitOptions, FitResult
from engine.geometry.camera import Cameras
from engine.io.calibration import Calibration, CameraCalibration
from engine.landmarks import LandmarkTable, load_landmark_table
from engine.pipeline.world import WorldFrame, find_world

log = logging.getLogger(__name__)
MASK_HEIGHT = 256  # masks are undistorted and fitted at this height


@dataclass
class FrameResult:
    fit: FitResult  # engine frame
    detections: list  # per view: Detection or None
    used_views: list[str]
    landmark_reprojection_px: np.ndarray  # (N,) median landmark error per view, NaN where unused
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    disagreeing: tuple[int, int] = (0, 0)  # landmark observations dropped, left/right swaps undone
    proxies: object = None  # engine.pipeline.proxies.GeneratedProxies, when a generator ran
    relabelled: list[str] = field(default_factory=list)  # views whose left/right labels were exchanged


class Reconstructor:
    def __init__(self, body: BodyModel, table: LandmarkTable, detector=None, generator=None,
                 options: FitOptions | None = None):
        self.body, self.table, self.detector, self.generator = body, table, detector, generator
        self.options = options or FitOptions.for_landmarks()

    @classmethod
    def from_pretrained(cls, checkpoint=None, body: str = "anny", device: str = "auto", smplx_model=None,
                        hands: bool = True, landmark_table=None, samples: int = 3, steps: int = 4,
                        uniform_weights: bool = False, pose_model: str = DEFAULT_POSE_MODEL) -> "Reconstructor":
        from engine.body import load_body_model
        from engine.detect.mediapipe_detector import MediaPipeDetector

        device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        model = load_body_model(body, smplx_model=str(smplx_model) if smplx_model else None)
        model = model.to(device)
        table = load_landmark_table(model.name, landmark_table, num_vertices=int(model.faces.max()) + 1)
        generator = None
        if checkpoint is not None:
            from engine.pipeline.proxies import ProxyGenerator

            generator = ProxyGenerator(checkpoint, model, samples=samples, steps=steps, device=device,
                                       uniform_weights=uniform_weights)
        return cls(model, table, MediaPipeDetector(hands=hands, mask=True, model=pose_model), generator)

    # 1 -------------------------------------------------------------------------------
    @staticmethod
    def check_inputs(images: dict[str, np.ndarray], calibration: Calibration) -> tuple[Calibration, list[str]]:
        """The calibration of the given views, each at its image's size."""
        notes, cameras = [], []
        for name, image in images.items():
            cam = calibration[name]
            if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
                raise InputError(f"camera {name}: expected an RGB image (H, W, 3), got "
                                 f"{getattr(image, 'shape', type(image))}")
            h, w = image.shape[:2]
            if not cam.width or not cam.height:
                cam = CameraCalibration(cam.name, cam.K, cam.dist, cam.R_cam_world, cam.t_cam_world, w, h)
            elif (w, h) != (cam.width, cam.height):
                if abs((w / h) / (cam.width / cam.height) - 1) > 0.01:
                    raise InputError(f"camera {name}: image is {w}x{h}, its calibration {cam.width}x{cam.height} "
                                     f"(aspect differs by more than 1%)")
                notes.append(f"camera {name}: image {w}x{h}, calibrated at {cam.width}x{cam.height}: "
                             f"calibration rescaled")
                cam = cam.scaled(w, h)
            cameras.append(cam)
        return Calibration(cameras, calibration.source, calibration.format), notes

    # 2 -------------------------------------------------------------------------------
    def detect(self, images: dict[str, np.ndarray], calibration: Calibration) -> list:
        from engine.detect.multiview import detect_views

        if self.detector is None:
            raise InputError("no detector loaded: pass detections (e.g. --keypoints)")
        projections = [c.projection() for c in calibration.cameras]
        return detect_views(self.detector, list(images.values()), projections if len(images) > 1 else None)

    # 3 -------------------------------------------------------------------------------
    def landmarks(self, detections: list, calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
        """(N, L, 2) undistorted pixels and (N, L) scores in the landmark table's order."""
        n, L = len(detections), len(self.table)
        xy, score = np.full((n, L, 2), np.nan), np.zeros((n, L))
        for v, (det, cam) in enumerate(zip(detections, calibration.cameras)):
            if det is None:
                continue
            pts = np.concatenate([det.body_xy, det.hands_xy[0], det.hands_xy[1]])
            sc = np.concatenate([det.body_score, det.hands_score[0], det.hands_score[1]])
            ok = np.isfinite(pts).all(1) & (sc > 0)
            xy[v, ok] = cam.undistort_points(pts[ok])
            score[v, ok] = sc[ok]
        return xy, score

    def agreed_landmarks(self, detections: list, calibration: Calibration):
        """``landmarks`` with each view's left/right labelling decided over all views
        (``sides.py``: a back view the detector labelled as a front view is relabelled), then the
        observations the views disagree on dropped or swapped (``consensus.py``). -> xy, score,
        (dropped, swapped), the names of the views relabelled."""
        from engine.detect.types import SIDE_SWAP
        from engine.pipeline.consensus import agree
        from engine.pipeline.sides import decide_sides, flip_views

        xy, score = self.landmarks(detections, calibration)
        hand = np.arange(21)
        mirror = np.concatenate([SIDE_SWAP, 54 + hand, 33 + hand])  # left hand <-> right hand
        P = np.stack([c.projection() for c in calibration.cameras])
        height = np.maximum(np.array([d.height if d is not None else 1.0 for d in detections]), 16.0)
        flipped, _ = decide_sides(xy, score, P, height, mirror)
        xy, score = flip_views(xy, score, flipped, mirror)
        xy, score, dropped, swapped = agree(xy, score, P, height, mirror)
        return xy, score, (dropped, swapped), [calibration.cameras[v].name for v in flipped]

    def engine_cameras(self, calibration: Calibration, world: WorldFrame) -> Cameras:
        K = np.stack([c.K for c in calibration.cameras])
        Rt = [world.camera_to_engine(c.R_cam_world, c.t_cam_world) for c in calibration.cameras]
        f = torch.float64
        return Cameras(torch.tensor(K, dtype=f), torch.tensor(np.stack([r for r, _ in Rt]), dtype=f),
                       torch.tensor(np.stack([t for _, t in Rt]), dtype=f),
                       [c.width for c in calibration.cameras], [c.height for c in calibration.cameras])

    def masks(self, detections: list, calibration: Calibration) -> list[torch.Tensor | None]:
        """Each view's person mask, undistorted, at most MASK_HEIGHT px high."""
        import cv2

        out = []
        for det, cam in zip(detections, calibration.cameras):
            if det is None or det.mask is None:
                out.append(None)
                continue
            f = min(1.0, MASK_HEIGHT / cam.height)
            small = cv2.resize(det.mask, (round(cam.width * f), round(cam.height * f)), interpolation=cv2.INTER_AREA)
            s = cam.scaled(small.shape[1], small.shape[0])
            if np.any(cam.dist):
                small = cv2.undistort(small, s.K, s.dist)
            out.append(torch.as_tensor(small.astype(np.float32) / 255.0))
        return out

    def find_world(self, detections_per_frame: list[list], calibration: Calibration) -> WorldFrame:
        """Units and up axis of the calibration's world from the triangulated person."""
        points = []
        for detections in detections_per_frame:
            xy, score = self.landmarks(detections, calibration)
            if (score.sum(1) > 0).sum() < 2:
                continue
            cams = self.engine_cameras(calibration, WorldFrame(1.0, "m", "+Z", 0.0))
            points.append(triangulate_landmarks(torch.as_tensor(xy).nan_to_num(0), torch.as_tensor(score),
                                                cams).numpy())
        if not points:
            return WorldFrame(1.0, "m", "+Z", float("nan"), "assumed")  # one view: nothing to measure
        with torch.no_grad():
            rest = self.body(self.body.neutral_params(1)).vertices[0].double().cpu().numpy()
        cam_up = -np.mean([c.R_cam_world[1] for c in calibration.cameras], axis=0)
        return find_world(np.stack(points), self.table.names, self.table.positions(rest), cam_up)

    # 1-5 -----------------------------------------------------------------------------
    def __call__(self, images: dict[str, np.ndarray], calibration: Calibration, world: WorldFrame | None = None,
                 detections: list | None = None, init: BodyParams | None = None) -> tuple[FrameResult, WorldFrame]:
        """One instant: ``check_inputs`` (step 1), then ``fit_frame`` (steps 2-5)."""
        sized, notes = self.check_inputs(images, calibration)
        return self.fit_frame(images, sized, world, detections, init, notes)

    def fit_frame(self, images: dict[str, np.ndarray], calibration: Calibration, world: WorldFrame | None = None,
                  detections: list | None = None, init: BodyParams | None = None,
                  notes: list[str] = ()) -> tuple[FrameResult, WorldFrame]:
        """Steps 2-5 on views already checked: ``calibration`` as ``check_inputs`` gave it (at the
        images' sizes), ``notes`` its notes. A sequence checks each frame once and calls this."""
        timings = {}
        notes = list(notes)
        t0 = time.perf_counter()
        if detections is None:
            detections = self.detect(images, calibration)
        timings["detect_s"] = time.perf_counter() - t0
        names = list(images)
        missing = [n for n, d in zip(names, detections) if d is None]
        if len(missing) == len(names):
            raise InputError(f"no person found in any view ({', '.join(names)})")
        if missing:
            them = "it" if len(missing) == 1 else "them"
            notes.append(f"no person found in {', '.join(missing)}: fitting without {them}")
        if len(names) - len(missing) < 2:
            notes.append("fewer than two views show the person: depth and scale come from the body prior")
        world = world or self.find_world([detections], calibration)
        xy, score, dropped, relabelled = self.agreed_landmarks(detections, calibration)
        cams = self.engine_cameras(calibration, world)
        observed = Observations(cams, torch.as_tensor(xy), torch.as_tensor(score), self.table,
                                self.masks(detections, calibration))
        proxies = None
        t1 = time.perf_counter()
        if self.generator is not None:
            proxies = self.generator(images, calibration, cams, detections)
        if proxies is not None:
            observed = replace(observed, proxies=proxies.corr, proxy_cameras=proxies.cameras)
        timings["proxies_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        with _threads(1 if self.body.device.type == "cpu" else None):
            fitted = fit(observed, self.body, self.options, init=init)
        timings["fit_s"] = time.perf_counter() - t2
        px = fitted.residual_px.double().cpu().numpy()
        px[[i for i, d in enumerate(detections) if d is None]] = np.nan
        return FrameResult(fitted, detections, names, px, timings, notes, dropped, proxies, relabelled), world


@contextmanager
def _threads(n: int | None):
    """torch on ``n`` threads inside: the fit is a long chain of small operations, which one
    thread runs several times faster than two that wait on each other (measured: 6 s against
    43 s per frame on a loaded 2-core CPU)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
