"""The one proxy sampler and its crop policies: ``Crop.WHOLE_IMAGE`` gives what the evaluation's
``ModelProxies`` sampled, ``Crop.AROUND_PERSON`` what the reconstruct pipeline's
``ProxyGenerator`` sampled (the two samplers before issue 24, written out below as references
from the same primitives), bit for bit, on tiny random models."""

import numpy as np
import pytest
import torch
from helpers import ring_cameras

from engine.detect.types import Detection, person_box
from engine.diffusion.configs import model_config
from engine.diffusion.conditioning import ViewEvidence, evidence_maps
from engine.diffusion.model import ProxyDiffusionModel
from engine.diffusion.sample import Crop, ProxySampler, SampleOptions, denoise
from engine.errors import InputError
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_cameras, crop_images, square_boxes
from engine.proxy.hands import hand_boxes
from engine.proxy.uncertainty import aggregate_samples


@pytest.fixture(scope="module")
def models():
    from diffusers import DDIMScheduler

    torch.manual_seed(0)
    conditioned = ProxyDiffusionModel(**model_config("tiny")).eval()  # reads MediaPipe's evidence
    torch.manual_seed(0)
    plain = ProxyDiffusionModel().eval()
    scheduler = DDIMScheduler(prediction_type="sample", timestep_spacing="trailing", rescale_betas_zero_snr=True)
    return {"conditioned": conditioned, "plain": plain}, scheduler


def _detection(w: int, h: int, rng: np.random.Generator) -> Detection:
    c = np.array([w / 2, h / 2]) + rng.uniform(-0.1, 0.1, 2) * [w, h]
    xy = c + rng.normal(0, 0.15, (33, 2)) * [w, h]
    hands = c + rng.normal(0, 0.05, (2, 21, 2)) * [w, h]
    mask = rng.integers(0, 256, (h, w), dtype=np.uint8)
    return Detection(xy, rng.uniform(0, 1, 33), hands, rng.uniform(0, 1, (2, 21)), mask, np.r_[xy.min(0), xy.max(0)])


def _whole_image_before(model, scheduler, images, cameras, options, evidence):
    """``ModelProxies`` before issue 24 (``sample_proxies``): the views as one batch, framed whole."""
    V, S = len(images), model.image_size
    rgb = torch.as_tensor(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    resample = lambda x, b: crop_images(x.float(), b, S, "bilinear") * 2 - 1  # noqa: E731
    maps = lambda rows, b: None if evidence is None else evidence_maps(evidence.subset(rows), b, S)  # noqa: E731
    boxes = square_boxes(V, cameras.width, cameras.height)
    source = list(range(V))
    cams = crop_cameras(cameras.to(torch.float64), boxes.double(), S)
    seg, uv = denoise(model, scheduler, resample(rgb, boxes), cams, options, maps(source, boxes))
    found = hand_boxes(aggregate_samples(seg, uv).seg)[: options.hand_crops] if options.hand_crops else []
    if found:
        scale = boxes[:, 2:3] - boxes[:, 0:1]
        boxes = torch.cat([boxes, torch.stack([boxes[v, [0, 1, 0, 1]] + box * scale[v] / S for v, _, box in found])])
        source += [v for v, _, _ in found]
        cams = crop_cameras(cameras.to(torch.float64).subset(source), boxes.double(), S)
        seg, uv = denoise(model, scheduler, resample(rgb[source], boxes), cams, options, maps(source, boxes))
    return aggregate_samples(seg, uv), cams, boxes, source, len(found)


def _around_person_before(model, scheduler, images, cameras, options, detections):
    """``ProxyGenerator`` before issue 24: a crop around the person in each view that has one."""
    S = model.image_size
    crops, boxes, views, maps = [], [], [], []
    for v, (image, det) in enumerate(zip(images, detections)):
        box = None if det is None else person_box(det.body_xy, det.body_score)
        if box is None:
            continue
        box = torch.as_tensor(box, dtype=torch.float64)[None]
        rgb = torch.tensor(image).permute(2, 0, 1)[None].float() / 255
        crops.append(crop_images(rgb, box.float(), S, "bilinear") * 2 - 1)
        if model.config.evidence_channels:
            maps.append(evidence_maps(ViewEvidence.from_detections([det], *image.shape[:2]), box, S))
        boxes.append(box)
        views.append(v)
    boxes = torch.cat(boxes)
    crop_cams = crop_cameras(cameras.subset(views).to(torch.float64), boxes, S)
    seg, uv = denoise(model, scheduler, torch.cat(crops), crop_cams.to(torch.float32), options,
                      torch.cat(maps) if maps else None)
    return aggregate_samples(seg, uv), crop_cams, boxes, views


def _same(got, expected):
    for key in ("seg", "uv", "weight"):
        assert torch.equal(getattr(got, key), getattr(expected, key)), key


@pytest.mark.parametrize("name, hand_crops", [("conditioned", 0), ("plain", 0),
                                               pytest.param("plain", 3, marks=pytest.mark.slow)])
def test_whole_image_crops_sample_as_the_evaluation_did(models, name, hand_crops):
    (by_name, scheduler), rng = models, np.random.default_rng(1)
    model = by_name[name]
    V, S = 2, 96
    cams = ring_cameras(V, size=S, seed=1)
    images = [rng.integers(0, 256, (S, S, 3), dtype=np.uint8) for _ in range(V)]
    evidence = ViewEvidence.from_detections([_detection(S, S, rng) for _ in range(V)], S, S) \
        if model.config.evidence_channels else None
    options = SampleOptions(samples=2, steps=2, seed=5, hand_crops=hand_crops)
    agg, crop_cams, boxes, source, hands = _whole_image_before(model, scheduler, images, cams, options, evidence)
    out = ProxySampler(model, scheduler, SampleOptions(samples=2, steps=2, hand_crops=hand_crops))(
        images, cams, Crop.WHOLE_IMAGE, evidence=evidence, seed=5)
    _same(out.proxy, agg)
    assert torch.equal(out.cameras.K, crop_cams.K) and torch.equal(out.boxes, boxes)
    assert out.source_view == source and out.hand_views == hands and (hand_crops == 0 or hands > 0)


@pytest.mark.parametrize("name", ["conditioned", "plain"])
def test_crops_around_the_person_sample_as_the_reconstruct_pipeline_did(models, name):
    """Views of different sizes (per-view camera sizes), one without a person (left out)."""
    (by_name, scheduler), rng = models, np.random.default_rng(2)
    model = by_name[name]
    sizes = [(120, 90), (100, 130), (120, 90), (80, 80)]
    ring = ring_cameras(4, size=100, seed=2)
    cams = Cameras(ring.K, ring.R_cam_world, ring.t_cam_world, [w for w, _ in sizes], [h for _, h in sizes])
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for w, h in sizes]
    detections = [_detection(w, h, rng) for w, h in sizes]
    detections[2] = None
    options = SampleOptions(samples=2, steps=2, seed=3)
    agg, crop_cams, boxes, views = _around_person_before(model, scheduler, images, cams, options, detections)
    out = ProxySampler(model, scheduler, options)(images, cams, Crop.AROUND_PERSON, detections=detections)
    _same(out.proxy, agg)
    assert torch.equal(out.cameras.K, crop_cams.K) and torch.equal(out.boxes, boxes)
    assert out.source_view == views == [0, 1, 3] and out.cameras.sizes == [(32, 32)] * 3
    assert ProxySampler(model, scheduler, options)(images, cams, Crop.AROUND_PERSON, detections=[None] * 4) is None


def test_the_sampler_names_what_mismatches(models):
    (by_name, scheduler) = models
    sampler = ProxySampler(by_name["plain"], scheduler)
    cams = ring_cameras(2, size=64)
    good = [np.zeros((64, 64, 3), np.uint8)] * 2
    with pytest.raises(InputError, match=r"images\[1\]: expected uint8 RGB at its camera's size \(64, 64, 3\), "
                                         r"got uint8 \(64, 48, 3\)"):
        sampler([good[0], np.zeros((64, 48, 3), np.uint8)], cams)
    with pytest.raises(InputError, match="cameras: 2 cameras for 1 images"):
        sampler(good[:1], cams)
    with pytest.raises(InputError, match="AROUND_PERSON crops around the person"):
        sampler(good, cams, Crop.AROUND_PERSON)
    with pytest.raises(InputError, match="conditioned on MediaPipe's evidence"):
        ProxySampler(by_name["conditioned"], scheduler)(good, cams)
