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
