"""Step 4 of the Reconstructor: dense proxies sampled by a trained generator
(``diffproxy train``'s checkpoints), as correspondences for the fit.

Each view where the person was found is undistorted (the proxies must follow the pinhole
camera the fit projects with), cropped to a square around the person (the detection's box,
enlarged by ``MARGIN``) and resampled to the model's size; the crops of all views are denoised
together (the model's epipolar attention sees every view), K samples are aggregated with the
paper's uncertainty weights, and the foreground pixels become (view, pixel) <-> (face,
barycentric) correspondences in the crops' cameras. A model conditioned on MediaPipe's
evidence gets the detections' landmarks and mask, undistorted and rasterised in each crop."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.detect.types import MARGIN, Detection, person_box  # noqa: F401  (MARGIN: named in the docstring)
from engine.diffusion.evidence import ViewEvidence, evidence_maps
from engine.diffusion.sample import SampleOptions, denoise, load_generator
from engine.fitting.correspondences import proxy_correspondences
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_cameras, crop_images
from engine.proxy import BodyProxy
from engine.proxy.uncertainty import AggregatedProxy, aggregate_samples

@dataclass
class GeneratedProxies:
    """One instant's proxies: the fit's correspondences in the crops' cameras, and what was
    sampled (for scoring and pictures)."""

    corr: object  # engine.fitting.correspondences result
    cameras: Cameras  # the crops', engine frame, at the model's size
    proxy: AggregatedProxy  # seg, uv, weight (V, S, S) of the used views
    boxes: torch.Tensor  # (V, 4) each crop in its (undistorted) image
    views: list[int]  # which input view each crop shows
    seconds: float


class ProxyGenerator:
    def __init__(self, checkpoint, body, samples: int = 3, steps: int = 4, device: str | None = None, seed: int = 0,
                 uniform_weights: bool = False):
        self.model, self.scheduler = load_generator(checkpoint, device)
        self.options = SampleOptions(samples=samples, steps=steps, seed=seed)
        self.lookup = BodyProxy.for_body(body).lookup
        self.uniform_weights = uniform_weights

    def __call__(self, images: dict, calibration, cameras: Cameras, detections: list) -> GeneratedProxies | None:
        """The proxies of the views that show the person, or None when none does (or nothing
        was sampled on the body)."""
        import cv2

        t0 = time.perf_counter()
        S = self.model.image_size
        crops, boxes, views, maps = [], [], [], []
        conditioned = bool(self.model.config.evidence_channels)
        for v, ((name, image), cam, det) in enumerate(zip(images.items(), calibration.cameras, detections)):
            if det is None:
                continue
            undistort = bool(np.any(cam.dist))
            image = cv2.undistort(image, cam.K, cam.dist) if undistort else image
            det = _undistorted(det, cam) if undistort else det
            box = person_box(det.body_xy, det.body_score)
            if box is None:
                continue
            box = torch.as_tensor(box, dtype=torch.float64)[None]
            rgb = torch.tensor(image).permute(2, 0, 1)[None].float() / 255
            crops.append(crop_images(rgb, box.float(), S, "bilinear") * 2 - 1)
            if conditioned:  # views may differ in size: one at a time
                maps.append(evidence_maps(ViewEvidence.from_detections([det], *image.shape[:2]), box, S))
            boxes.append(box)
            views.append(v)
        if not views:
            return None
        boxes = torch.cat(boxes)
        evidence = torch.cat(maps) if conditioned else None
        crop_cams = crop_cameras(cameras.subset(views).to(torch.float64), boxes, S)
        seg, uv = denoise(self.model, self.scheduler, torch.cat(crops), crop_cams.to(torch.float32), self.options,
                          evidence)
        agg = aggregate_samples(seg, uv)
        if not (agg.seg > 0).any():
            return None
        weight = torch.ones_like(agg.weight) if self.uniform_weights else agg.weight
        corr = proxy_correspondences(agg.seg.long(), agg.uv.float(), self.lookup, weight.float(), max_per_part=48)
        return GeneratedProxies(corr, crop_cams, agg, boxes, views, time.perf_counter() - t0)


def _undistorted(det: Detection, cam) -> Detection:
    """``det`` in the undistorted image (the pinhole camera the crops and the fit use)."""
    import cv2

    def points(xy):
        out = np.full_like(xy, np.nan)
        ok = np.isfinite(xy).all(axis=-1)
        if ok.any():
            out[ok] = cam.undistort_points(xy[ok])
        return out

    mask = None if det.mask is None else cv2.undistort(det.mask, cam.K, cam.dist)
    return Detection(points(det.body_xy), det.body_score, points(det.hands_xy), det.hands_score, mask, det.box)
