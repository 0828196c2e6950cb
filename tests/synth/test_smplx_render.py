"""Rendering with ``--body smplx``: a tiny scene of the procedural SMPL-X humanoid through
Blender, validated pixel by pixel against the body rebuilt from the recorded betas and pose."""

import numpy as np
import pytest
from fake_smplx_humanoid import write_humanoid_smplx

from engine.io.scene import read_scene
from synth.config import load_config
from synth.dataset import render_dataset
from synth.validate import validate

pytestmark = [pytest.mark.blender, pytest.mark.slow]


def test_smplx_scene_renders_and_validates(tmp_path):
    model = write_humanoid_smplx(tmp_path / "SMPLX_NEUTRAL.npz")
    cfg = load_config(None, {"body": {"model": "smplx", "smplx_model": str(model)},
                             "cameras": {"views": 3, "width": 72, "height": 64},
                             "render": {"samples": 2, "denoise": False}})
    out = tmp_path / "data"
    summary = render_dataset(out, 1, cfg)
    assert summary["rendered"] == 1
    result = validate(out)["summary"]  # the model file comes from dataset.json
    assert result["ok"], result["bad_scenes"]
    assert result["proxy_px_within_1px"] >= 0.999 and result["foreground_px"] > 100
    scene = read_scene(out / "scene_000000")
    body = scene.record["body"]
    assert body["model"] == "smplx" and len(body["params"]["shape"]) == 10
    assert np.asarray(body["params"]["body_pose"]).shape == (54, 3)
    assert scene.gt["vertices"].shape == (10475, 3) and scene.gt["joints"].shape == (55, 3)

    # The dataset is tied to the model file's content, not its path: moved, it resumes.
    moved = tmp_path / "elsewhere" / "SMPLX_NEUTRAL.npz"
    moved.parent.mkdir()
    model.rename(moved)
    again = load_config(None, {"body": {"model": "smplx", "smplx_model": str(moved)},
                               "cameras": {"views": 3, "width": 72, "height": 64},
                               "render": {"samples": 2, "denoise": False}})
    assert render_dataset(out, 1, again)["skipped"] == 1
