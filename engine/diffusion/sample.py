"""Inference: calibrated RGB views -> K proxy samples per view -> aggregated proxies with
per-pixel weights (``engine.proxy.aggregate_samples``, the rule the fitting shares).

- Views of any size are framed in a square (padded, never cut) and resampled to the
  model's resolution; their intrinsics follow (``engine.geometry.crop``), so the returned
  proxies come with the cameras they are exact for.
- The K samples run as K scenes of one batch, a few DDIM steps on the trailing timesteps
  of a zero-terminal-SNR schedule.
- Hand refinement: hands found in the first pass's parts are cropped from the original
  images (square boxes; only the intrinsics change) and a second pass denoises the body
  views and the crops together; the crops are returned as extra views for the fitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.diffusion.checkpoint import resolve_model_folder
from engine.diffusion.codec import decode_proxy_images, decode_views
from engine.diffusion.evidence import ViewEvidence, evidence_maps
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


@dataclass
class SampledProxies:
    """V proxy views (body views first, then hand crops) at the model's resolution."""

    proxy: AggregatedProxy  # seg, uv, weight (V, S, S)
    cameras: Cameras  # at S x S
    boxes: torch.Tensor  # (V, 4) each view's box in its source image
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


def _resample(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(V, 3, H, W) in [0, 1] -> (V, 3, S, S) in [-1, 1]."""
    return crop_images(images.float(), boxes, size, "bilinear") * 2 - 1


def sample_proxies(model, scheduler, images: torch.Tensor, cameras: Cameras,
                   options: SampleOptions = SampleOptions(), evidence: ViewEvidence | None = None) -> SampledProxies:
    """images (V, 3, H, W) in [0, 1] with their cameras (and, for a model conditioned on it,
    MediaPipe's evidence in them) -> aggregated proxies (+ hand crops)."""
    if options.samples < 1 or options.steps < 1:
        raise InputError(f"samples and steps must be at least 1, got {options.samples}, {options.steps}")
    V, _, H, W = images.shape
    if len(cameras) != V or cameras.sizes != [(W, H)] * V:
        sizes = ", ".join(f"{w}x{h}" for w, h in cameras.sizes)
        raise InputError(f"cameras: {len(cameras)} cameras of {sizes} for {V} images of {W}x{H}")
    S = model.image_size
    boxes = square_boxes(V, W, H)
    source = list(range(V))
    cams = crop_cameras(cameras.to(torch.float64), boxes.double(), S)
    maps = lambda rows, b: None if not model.config.evidence_channels or evidence is None else \
        evidence_maps(evidence.subset(rows), b, S)  # noqa: E731  (denoise names missing evidence)
    seg, uv = denoise(model, scheduler, _resample(images, boxes, S), cams, options, maps(source, boxes))
    hands = 0
    if options.hand_crops:
        agg = aggregate_samples(seg, uv)
        found = hand_boxes(agg.seg)[: options.hand_crops]
        if found:
            scale = boxes[:, 2:3] - boxes[:, 0:1]  # source pixels per model pixel x S
            crop_boxes = torch.stack([boxes[v, [0, 1, 0, 1]] + box * scale[v] / S for v, _, box in found])
            hands = len(found)
            boxes = torch.cat([boxes, crop_boxes])
            source += [v for v, _, _ in found]
            cams = crop_cameras(cameras.to(torch.float64).subset(source), boxes.double(), S)
            seg, uv = denoise(model, scheduler, _resample(images[source], boxes, S), cams, options, maps(source, boxes))
    return SampledProxies(aggregate_samples(seg, uv), cams, boxes, source, hands, seg)

