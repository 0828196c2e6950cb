"""Inference: calibrated RGB views -> K proxy samples per view -> aggregated proxies with
per-pixel weights (``engine.proxy.aggregate_samples``, the rule the fitting shares).

``ProxySampler`` is the one sampler: a trained generator loaded once (``from_pretrained``),
called on one instant's views (pinhole images, each at its camera's size) with a crop policy
(``Crop``):

- ``Crop.WHOLE_IMAGE``: each view framed whole in a square (padded, never cut), as the
  renders are framed (``diffproxy evaluate --proxies model-only``);
- ``Crop.AROUND_PERSON``: a square around the person's detected body landmarks
  (``engine.detect.person_box``, the box enlarged by ``MARGIN``); views without a person
  are left out (``reconstruct --proxies model``).

Each crop is resampled to the model's resolution and its intrinsics follow
(``engine.geometry.crop``), so the returned proxies come with the cameras they are exact
for. A model conditioned on MediaPipe's evidence gets it rasterised in each crop
(``engine.diffusion.conditioning``). The K samples run as K scenes of one batch, a few DDIM steps
on the trailing timesteps of a zero-terminal-SNR schedule.

Hand refinement (``SampleOptions.hand_crops``): hands found in the first pass's parts are
cropped from the original images (square boxes; only the intrinsics change) and a second
pass denoises the first crops and the hand crops together; the hand crops are returned as
extra views for the fitting.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.diffusion.checkpoint import resolve_model_folder
from engine.diffusion.codec import decode_proxy_images, decode_views
from engine.detect.types import MARGIN, Detection, person_box  # noqa: F401  (MARGIN: named in the docstring)
from engine.diffusion.conditioning import ViewEvidence, evidence_maps
from engine.proxy.hands import hand_boxes
from engine.errors import InputError
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_cameras, crop_images, square_boxes
from engine.proxy.uncertainty import AggregatedProxy, aggregate_samples


@dataclass
class SampleOptions:
    samples: int = 3  # K
    steps: int = 4  # the overfit proof: 2-8 steps give the same proxies (docs/experiments.md)
    seed: int = 0
    hand_crops: int = 0  # at most this many hand crops in a second pass; 0: no hand refinement


class Crop(enum.Enum):
    """Where each view is cropped before it is resampled to the model's size."""

    WHOLE_IMAGE = "whole-image"  # the image in a centred square, padded where it is not square
    AROUND_PERSON = "around-person"  # a square around the detected person; views without one left out


@dataclass
class SampledProxies:
    """V proxy views (body views first, then hand crops) at the model's resolution."""

    proxy: AggregatedProxy  # seg, uv, weight (V, S, S)
    cameras: Cameras  # at S x S, float64
    boxes: torch.Tensor  # (V, 4) each view's box in its source image (pixel edges)
    source_view: list[int]  # which input view each proxy view shows
    hand_views: int
    samples_seg: torch.Tensor  # (K, V, S, S) the raw samples


def load_generator(path: Path, device: str | None = None):
    """(model, DDIM scheduler) from a diffusers model folder or a training folder, on
    ``device`` (default: the GPU when there is one)."""
    from diffusers import DDIMScheduler

    from engine.diffusion.model import ProxyDiffusionModel

    folder = resolve_model_folder(Path(path))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # float32 whatever the file holds (the shipped model is stored in float16)
    try:
        model = ProxyDiffusionModel.from_pretrained(folder, torch_dtype=torch.float32).to(device).eval()
        scheduler = DDIMScheduler.from_pretrained(folder, subfolder="scheduler")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:  # a folder that is not a whole model
        reason = " ".join(str(e).split())[:300]
        raise InputError(f"--checkpoint: {folder}: not a loadable proxy generator ({type(e).__name__}: {reason})"
                         ) from None
    return model, scheduler


@torch.no_grad()
def denoise(model, scheduler, rgb: torch.Tensor, cameras: Cameras, options: SampleOptions,
            evidence: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """rgb (V, 3, S, S) in [-1, 1], cameras at S, the evidence maps (V, E, S, S) for a model
    conditioned on them -> K samples: seg (K, V, S, S), uv (K, V, S, S, 2)."""
    K, V = options.samples, rgb.shape[0]
    device = next(model.parameters()).device
    codec, S = model.codec, model.image_size
    g = torch.Generator().manual_seed(options.seed)
    x = torch.randn(K, 2, V, codec.channels, S // codec.downscale, S // codec.downscale, generator=g).to(device)
    x = x * scheduler.init_noise_sigma
    rgb_k = rgb.to(device)[None].expand(K, *rgb.shape)
    ev_k = None if evidence is None else evidence.to(device)[None].expand(K, *evidence.shape)
    if model.config.evidence_channels and ev_k is None:
        raise InputError("this model is conditioned on MediaPipe's evidence: pass the views' detections")
    scheduler.set_timesteps(options.steps, device=device)
    for t in scheduler.timesteps:
        pred = model(scheduler.scale_model_input(x, t), t.expand(K), rgb_k, [cameras] * K, ev_k)
        x = scheduler.step(pred, t, x).prev_sample
    images = decode_views(codec, x)  # (K, 2, V, 3, S, S)
    return decode_proxy_images(images.transpose(1, 2).cpu(), codec.rest)


class ProxySampler:
    """A trained generator loaded once; calling it samples one instant's views (see the module
    docstring). ``options``: K, steps, the noise's seed and the hand refinement."""

    def __init__(self, model, scheduler, options: SampleOptions = SampleOptions()):
        self.model, self.scheduler, self.options = model, scheduler, options

    @classmethod
    def from_pretrained(cls, checkpoint, options: SampleOptions = SampleOptions(),
                        device: str | None = None) -> "ProxySampler":
        """The model folder or training folder ``checkpoint`` (``load_generator``), on ``device``
        (default: the GPU when there is one)."""
        return cls(*load_generator(Path(checkpoint), device), options)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def image_size(self) -> int:
        return self.model.image_size

    def __call__(self, images: list[np.ndarray], cameras: Cameras, crop: Crop = Crop.WHOLE_IMAGE, *,
                 detections: list[Detection | None] | None = None, evidence: ViewEvidence | None = None,
                 seed: int | None = None) -> SampledProxies | None:
        """``images``: V pinhole views (H, W, 3) uint8 RGB, each at its camera's size;
        ``detections``: the person in each of them (Detection or None, in those pixels), which
        ``Crop.AROUND_PERSON`` crops around and a conditioned model reads its evidence from;
        or ``evidence``: MediaPipe's evidence of the V views (``ViewEvidence``, one image size);
        ``seed``: this call's noise (default: the options'). -> the proxies of the views cropped
        (``source_view``), or None when ``Crop.AROUND_PERSON`` finds no person."""
        options = self.options if seed is None else replace(self.options, seed=seed)
        if options.samples < 1 or options.steps < 1:
            raise InputError(f"samples and steps must be at least 1, got {options.samples}, {options.steps}")
        crop = Crop(crop)
        V, S = len(images), self.image_size
        if len(cameras) != V:
            raise InputError(f"cameras: {len(cameras)} cameras for {V} images")
        for v, (image, (w, h)) in enumerate(zip(images, cameras.sizes)):
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (h, w, 3):
                raise InputError(f"images[{v}]: expected uint8 RGB at its camera's size ({h}, {w}, 3), got "
                                 f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
        if detections is not None and len(detections) != V:
            raise InputError(f"detections: {len(detections)} for {V} images")
        if evidence is not None and detections is not None:
            raise InputError("evidence: give MediaPipe's evidence or the detections, not both")
        if evidence is not None and len(evidence.body) != V:
            raise InputError(f"evidence: {len(evidence.body)} views for {V} images")
        if crop is Crop.WHOLE_IMAGE:
            source = list(range(V))
            boxes = torch.cat([square_boxes(1, w, h) for w, h in cameras.sizes])
        else:
            if detections is None:
                raise InputError("detections: Crop.AROUND_PERSON crops around the person detected in each view")
            found = [(v, person_box(d.body_xy, d.body_score)) for v, d in enumerate(detections) if d is not None]
            found = [(v, b) for v, b in found if b is not None]
            if not found:
                return None
            source = [v for v, _ in found]
            boxes = torch.stack([torch.as_tensor(b, dtype=torch.float64) for _, b in found])

        def denoised(rows: list[int], boxes: torch.Tensor) -> tuple[Cameras, torch.Tensor, torch.Tensor]:
            cams = crop_cameras(cameras.to(torch.float64).subset(rows), boxes.double(), S)
            # the person's crops reach the model in float32, as the reconstruct pipeline has always
            # passed them (their Plücker rays differ from float64's in the last bit)
            seen = cams.to(torch.float32) if crop is Crop.AROUND_PERSON else cams
            seg, uv = denoise(self.model, self.scheduler, _resample(images, rows, boxes, S), seen, options,
                              self._evidence_maps(images, rows, boxes, detections, evidence))
            return cams, seg, uv

        cams, seg, uv = denoised(source, boxes)
        hands = 0
        if options.hand_crops:
            in_crops = hand_boxes(aggregate_samples(seg, uv).seg)[: options.hand_crops]  # (crop, hand, box)
            if in_crops:
                scale = boxes[:, 2:3] - boxes[:, 0:1]  # source pixels per model pixel x S
                crop_boxes = torch.stack([boxes[i, [0, 1, 0, 1]] + box * scale[i] / S for i, _, box in in_crops])
                hands = len(in_crops)
                boxes = torch.cat([boxes, crop_boxes])
                source = source + [source[i] for i, _, _ in in_crops]
                cams, seg, uv = denoised(source, boxes)
        return SampledProxies(aggregate_samples(seg, uv), cams, boxes, source, hands, seg)

    def _evidence_maps(self, images, rows: list[int], boxes: torch.Tensor, detections, evidence
                       ) -> torch.Tensor | None:
        """(len(rows), E, S, S) the evidence in each crop, for a conditioned model (None without
        evidence: ``denoise`` names what is missing)."""
        if not self.model.config.evidence_channels:
            return None
        if evidence is not None:
            return evidence_maps(evidence.subset(rows), boxes, self.image_size)
        if detections is None:
            return None
        # views may differ in size: one at a time
        return torch.cat([evidence_maps(ViewEvidence.from_detections([detections[v]], *images[v].shape[:2]),
                                        boxes[i:i + 1], self.image_size) for i, v in enumerate(rows)])


def _resample(images: list[np.ndarray], rows: list[int], boxes: torch.Tensor, size: int) -> torch.Tensor:
    """The crops ``boxes`` of the uint8 images ``rows`` -> (len(rows), 3, S, S) in [-1, 1]."""
    return torch.cat([crop_images(torch.tensor(images[v]).permute(2, 0, 1)[None].float() / 255, boxes[i:i + 1],
                                  size, "bilinear") * 2 - 1 for i, v in enumerate(rows)])
