import os

import pytest
import torch

from engine.body import load_body_model
from engine.proxy import BodyProxy

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per worker: two workers with two OpenMP threads each on two cores spin
    # against each other and run the torch-heavy tests (training) many times slower
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def anny64():
    return load_body_model("anny", dtype=torch.float64)


@pytest.fixture(scope="session")
def anny32():
    return load_body_model("anny", dtype=torch.float32)


@pytest.fixture(scope="session")
def anny_proxy(anny64):
    return BodyProxy.for_body(anny64)


HELD_OUT = """
seed = 424242
[pose.family_weights]
standing = 1.0
walking = 1.0
sitting = 0.0
crouching = 0.0
reaching = 0.0
arms_raised = 0.0
bending = 0.0
lying = 0.0
[occluders]
count = [0, 0]
[cameras]
views = 4
width = 384
height = 384
out_of_frame_share = 0.0
[render]
samples = 6
"""


@pytest.fixture(scope="session")
def held_out(tmp_path_factory):
    """One rendered scene (real Blender, real Anny) of a seed no shipped table or model was
    made from: a standing or walking person in 4 views of 384 px."""
    from synth.config import load_config
    from synth.dataset import render_dataset

    root = tmp_path_factory.mktemp("held_out")
    (root / "held_out.toml").write_text(HELD_OUT)
    render_dataset(root / "d", 1, load_config(root / "held_out.toml"))
    return root / "d"
