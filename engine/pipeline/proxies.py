"""Step 4 of the Reconstructor: dense proxies sampled by a trained generator
(``diffproxy train``'s checkpoints), as correspondences for the fit.

Each view where the person was found is undistorted (the proxies must follow the pinhole
camera the fit projects with), cropped to a square around the person (the detection's box,
enlarged by ``MARGIN``) and resampled to the model's size; the crops of all views are denoised
together (the model's epipolar attention sees every view), K samples are aggregated with the
paper's uncertainty weights, and the foreground pixels become (view, pixel) <-> (face,
barycentric) correspondences in the crops' cameras."""

from __future__ import annotations

import numpy as np
import torch

from engine.diffusion.sample import SampleOptions, denoise, load_generator
from engine.fitting.correspondences import proxy_correspondences
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_cameras, crop_images
from engine.proxy import BodyProxy
from engine.proxy.uncertainty import aggregate_samples

MARGIN = 1.25


class ProxyGenerator:
    def __init__(self, checkpoint, body, samples: int = 3, steps: int = 8, device: str | None = None, seed: int = 0):
        self.model, self.scheduler = load_generator(checkpoint, device)
        self.options = SampleOptions(samples=samples, steps=steps, seed=seed)
        self.lookup = BodyProxy.for_body(body).lookup

    def __call__(self, images: dict, calibration, cameras: Cameras, detections: list):
        """-> correspondences, the crops' cameras (engine frame), or (None, None) when no view
        shows the person."""
        import cv2

        S = self.model.image_size
        crops, boxes, views = [], [], []
        for v, ((name, image), cam, det) in enumerate(zip(images.items(), calibration.cameras, detections)):
            if det is None:
                continue
            if np.any(cam.dist):
                image = cv2.undistort(image, cam.K, cam.dist)
            x0, y0, x1, y1 = det.box
            side = MARGIN * max(x1 - x0, y1 - y0, 16.0)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            box = torch.tensor([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]], dtype=torch.float64)
            rgb = torch.as_tensor(image).permute(2, 0, 1)[None].float() / 255
            crops.append(crop_images(rgb, box.float(), S, "bilinear") * 2 - 1)
            boxes.append(box)
            views.append(v)
        if not views:
            return None, None
        crop_cams = crop_cameras(cameras.subset(views).to(torch.float64), torch.cat(boxes), S)
        seg, uv = denoise(self.model, self.scheduler, torch.cat(crops), crop_cams.to(torch.float32), self.options)
        agg = aggregate_samples(seg, uv)
        if not (agg.seg > 0).any():
            return None, None
        corr = proxy_correspondences(agg.seg.long(), agg.uv.float(), self.lookup, agg.weight.float(), max_per_part=48)
        return corr, crop_cams
