"""``diffproxy evaluate --proxies model``: the product's path on a render with a generator
loaded (a tiny random model conditioned on MediaPipe's evidence, saved as `diffproxy train`
saves one): the detector, the proxies sampled in crops around the person, the fit to both,
and the proxies scored against the exact ones in the same crops."""

import json

import pytest
import torch
from typer.testing import CliRunner

from engine.cli.main import app


@pytest.fixture(scope="module")
def conditioned_checkpoint(tmp_path_factory):
    from diffusers import DDIMScheduler

    from engine.diffusion.configs import model_config
    from engine.diffusion.model import ProxyDiffusionModel

    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    ProxyDiffusionModel(**model_config("tiny")).save_pretrained(folder)
    DDIMScheduler(num_train_timesteps=1000, prediction_type="sample").save_pretrained(folder / "scheduler")
    return folder


@pytest.mark.blender
@pytest.mark.slow
def test_evaluate_model_scores_the_fit_and_the_proxies(held_out, conditioned_checkpoint):
    args = ["evaluate", str(held_out), "--proxies", "model", "--checkpoint", str(conditioned_checkpoint),
            "--num-views", "4", "--samples", "2", "--steps", "1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    s = json.loads(result.output.strip().splitlines()[-1])
    assert s["proxies"] == "model" and s["scenes"] == 1 and s["samples"] == 2 and s["evidence_channels"] == 21
    assert s["uniform_weights"] is False
    for key in ("mpvpe_mm", "pa_mpvpe_mm", "keypoint_mpjpe_mm", "seg_miou", "surface_error_mm", "seconds_proxies"):
        assert key in s, key
    assert 0 <= s["seg_miou"] <= 1 and s["seconds_proxies"] > 0
    assert s["mpvpe_mm"] < 300  # a random model's proxies weigh in, but the landmarks still hold the body
    uniform = CliRunner().invoke(app, args + ["--uniform-weights"])
    assert uniform.exit_code == 0, uniform.output
    assert json.loads(uniform.output.strip().splitlines()[-1])["uniform_weights"] is True
