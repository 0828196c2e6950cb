"""Step 4 of the Reconstructor: dense proxies sampled by a trained generator
(``diffproxy train``'s checkpoints), as correspondences for the fit.

Each view where the person was found is undistorted (the proxies must follow the pinhole
camera the fit projects with) and handed to the sampler (``engine.diffusion.sample.ProxySampler``)
with the crop policy ``Crop.AROUND_PERSON``: a square around the person, resampled to the
model's size, all views denoised together, K samples aggregated with the paper's uncertainty
weights (a model conditioned on MediaPipe's evidence gets the detections' landmarks and mask,
undistorted, in each crop). The foreground pixels become (view, pixel) <-> (face,
barycentric) correspondences in the crops' cameras."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.detect.types import Detection
from engine.diffusion.sample import Crop, ProxySampler, SampleOptions
from engine.fitting.correspondences import proxy_correspondences
from engine.geometry.camera import Cameras
from engine.proxy import BodyProxy
from engine.proxy.uncertainty import AggregatedProxy


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
    """The sampler loaded once, with the body's surface lookup for the correspondences."""

    def __init__(self, checkpoint, body, samples: int = 3, steps: int = 4, device: str | None = None, seed: int = 0,
                 uniform_weights: bool = False):
        self.sampler = ProxySampler.from_pretrained(checkpoint, SampleOptions(samples=samples, steps=steps, seed=seed),
                                                    device)
        self.lookup = BodyProxy.for_body(body).lookup
        self.uniform_weights = uniform_weights

    @property
    def model(self):
        return self.sampler.model

    @property
    def options(self) -> SampleOptions:
        return self.sampler.options

    def __call__(self, images: dict, calibration, cameras: Cameras, detections: list) -> GeneratedProxies | None:
        """The proxies of the views that show the person, or None when none does (or nothing
        was sampled on the body)."""
        import cv2

        t0 = time.perf_counter()
        pinhole, found = [], []
        for image, cam, det in zip(images.values(), calibration.cameras, detections):
            if det is not None and np.any(cam.dist):
                image, det = cv2.undistort(image, cam.K, cam.dist), _undistorted(det, cam)
            pinhole.append(image)
            found.append(det)
        out = self.sampler(pinhole, cameras, Crop.AROUND_PERSON, detections=found)
        if out is None or not (out.proxy.seg > 0).any():
            return None
        agg = out.proxy
        weight = torch.ones_like(agg.weight) if self.uniform_weights else agg.weight
        corr = proxy_correspondences(agg.seg.long(), agg.uv.float(), self.lookup, weight.float(), max_per_part=48)
        return GeneratedProxies(corr, out.cameras, agg, out.boxes, out.source_view, time.perf_counter() - t0)


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
