"""reconstruct --proxies model: a checkpoint's proxies join the evidence (a tiny random model,
saved and loaded as `diffproxy train` writes one, on one frame of the bundled capture)."""

import json
from pathlib import Path

import pytest
import torch

from engine.diffusion.conditioning import EVIDENCE_CHANNELS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pose2sim_balancing"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from diffusers import DDIMScheduler

    from engine.diffusion.configs import model_config
    from engine.diffusion.model import ProxyDiffusionModel

    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    ProxyDiffusionModel(**model_config("tiny")).save_pretrained(folder)
    DDIMScheduler(num_train_timesteps=1000).save_pretrained(folder / "scheduler")
    return folder


@pytest.mark.slow
def test_reconstruct_with_a_checkpoints_proxies(tmp_path, checkpoint):
    from helpers import reconstruct_to
    from engine.pipeline.proxies import ProxyGenerator

    summary = reconstruct_to(EXAMPLE / "videos", tmp_path / "out", EXAMPLE / "calibration" / "Calib.toml", "0",
                                 proxies="model", checkpoint=checkpoint, samples=2, steps=1)
    assert summary["seconds_proxies"] > 0  # the generator ran on the views
    assert (tmp_path / "out" / "fit.npz").exists()
    assert json.loads((tmp_path / "out" / "fit.json").read_text())["world"]["up_axis"] == "+Z"
    # the step itself: one crop per view with the person, in the crops' cameras, as correspondences
    from engine.io.calibration import read_calibration
    from engine.pipeline.capture import open_capture
    from engine.pipeline.reconstructor import Reconstructor

    rec = Reconstructor.from_pretrained(checkpoint, samples=2, steps=1)
    assert isinstance(rec.generator, ProxyGenerator)
    calib = read_calibration(EXAMPLE / "calibration" / "Calib.toml")
    _, images = next(open_capture(EXAMPLE / "videos", calib.names()).read([0]))
    sized, _ = rec.check_inputs(images, calib)
    detections = rec.detect(images, sized)
    cams = rec.engine_cameras(sized, rec.find_world([detections], sized))
    assert rec.generator.model.config.evidence_channels == EVIDENCE_CHANNELS  # MediaPipe's evidence goes in too
    out = rec.generator(images, sized, cams, detections)
    corr, crop_cams = out.corr, out.cameras
    assert len(crop_cams) == 4 and crop_cams.width == rec.generator.model.image_size and out.views == [0, 1, 2, 3]
    assert corr is not None and len(corr) > 0 and ((corr.weight >= 0) & (corr.weight <= 1)).all()
    # each crop frames the person: the undistorted landmarks of its view fall inside it
    for v, box in zip(out.views, out.boxes.numpy()):
        det, cam = detections[v], sized.cameras[v]
        xy = cam.undistort_points(det.body_xy[det.body_score > 0.5])
        assert ((xy >= box[:2]) & (xy <= box[2:])).all()


def test_the_shipped_model_is_the_default_and_loads_offline(tmp_path):
    """No --checkpoint: the generator the package ships (float16 safetensors, at most 30 MB,
    with its card and training record), conditioned on MediaPipe's evidence; a folder
    without a model is refused naming it, before anything is written."""
    from safetensors import safe_open

    from helpers import reconstruct_to
    from engine.diffusion.checkpoint import SHIPPED_MODEL, default_checkpoint
    from engine.diffusion.sample import load_generator
    from engine.errors import InputError

    assert default_checkpoint(None) == SHIPPED_MODEL
    weights = SHIPPED_MODEL / "diffusion_pytorch_model.safetensors"
    assert weights.stat().st_size < 30 * 2**20
    with safe_open(weights, "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    for name in ("MODEL_CARD.md", "train_config.json", "log.jsonl", "scheduler/scheduler_config.json"):
        assert (SHIPPED_MODEL / name).is_file(), name
    model, scheduler = load_generator(default_checkpoint(None), "cpu")
    assert model.config.evidence_channels == EVIDENCE_CHANNELS and model.image_size == 128
    assert next(model.parameters()).dtype == torch.float32
    with pytest.raises(InputError, match="holds no model"):
        reconstruct_to(EXAMPLE / "videos", tmp_path / "out", EXAMPLE / "calibration" / "Calib.toml", "0",
                           proxies="model", checkpoint=tmp_path)
    assert not (tmp_path / "out").exists()
