import pytest
import torch

from engine.body import load_body_model
from engine.proxy import BodyProxy


@pytest.fixture(scope="session")
def anny64():
    return load_body_model("anny", dtype=torch.float64)


@pytest.fixture(scope="session")
def anny32():
    return load_body_model("anny", dtype=torch.float32)


@pytest.fixture(scope="session")
def anny_proxy(anny64):
    return BodyProxy.for_body(anny64)
