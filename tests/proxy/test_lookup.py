import numpy as np
import pytest
import torch
from helpers import random_pose

from engine.errors import InputError
from engine.proxy import UVLookup, surface_points, uv_of_surface_points
from engine.proxy.roundtrip import uv_roundtrip


def test_roundtrip_on_100k_points(anny64, anny_proxy):
    report = uv_roundtrip(anny64, anny_proxy, samples=100_000, seed=0)
    print(report)
    assert report.within_1mm == 1.0 and report.failures == 0  # the README's claim: 0 failures
    assert report.max_error_mm < 1e-9  # measured 2.5e-12 mm


def test_lookup_is_pose_independent(anny64, anny_proxy):
    g = torch.Generator().manual_seed(1)
    face = torch.randint(0, anny64.faces.shape[0], (5000,), generator=g)
    bary = torch.distributions.Dirichlet(torch.ones(3, dtype=torch.float64)).sample((5000,))
    verts = anny64(random_pose(anny64, 2, 0.5, seed=1)).vertices
    uv = uv_of_surface_points(anny64.uv_coords, anny64.uv_faces, face, bary)
    found = anny_proxy.lookup.query(anny_proxy.part_table.face_part[face], uv)
    assert found.valid.all() and found.inside.all()
    err = (surface_points(verts, anny64.faces, found.face, found.bary) - surface_points(verts, anny64.faces, face, bary))
    assert err.norm(dim=-1).max() < 1e-6


def test_wrong_part_is_not_valid(anny64, anny_proxy):
    face = torch.arange(0, anny64.faces.shape[0], 97)
    bary = torch.full((len(face), 3), 1 / 3, dtype=torch.float64)
    uv = uv_of_surface_points(anny64.uv_coords, anny64.uv_faces, face, bary)
    part = anny_proxy.part_table.face_part[face]
    wrong = torch.where(part == 1, torch.full_like(part, 40), torch.ones_like(part))  # head <-> a finger
    found = anny_proxy.lookup.query(wrong, uv)
    assert not found.inside.any()
    assert (found.face[~found.valid] == -1).all()
    assert torch.allclose(found.bary.sum(dim=1), torch.ones(len(face), dtype=torch.float64))


def test_surface_points_gradient(anny64):
    faces = anny64.faces
    verts = torch.randn(1, anny64.faces.max() + 1, 3, dtype=torch.float64, requires_grad=True)
    face = torch.tensor([0, 10, 500])
    bary = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0, 0], [0.1, 0.1, 0.8]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, b: surface_points(v, faces, face, b), (verts, bary))


def test_cache_is_written_once_and_reused(anny64, anny_proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFPROXY_CACHE_DIR", str(tmp_path))
    first = UVLookup.for_body(anny64, anny_proxy.part_table.face_part, grid=128)
    files = list((tmp_path / "uv_lookup").glob("anny-*.npz"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    second = UVLookup.for_body(anny64, anny_proxy.part_table.face_part, grid=128)
    assert files[0].stat().st_mtime_ns == mtime
    assert torch.equal(first.table, second.table)
    assert not list((tmp_path / "uv_lookup").glob(".*tmp"))  # no temporary left behind


def test_query_rejects_bad_input(anny_proxy):
    lk = anny_proxy.lookup
    with pytest.raises(InputError, match="uv"):
        lk.query(torch.ones(3, dtype=torch.long), torch.zeros(3, 3))
    with pytest.raises(InputError, match=r"part: unknown part id"):
        lk.query(torch.tensor([99]), torch.zeros(1, 2))
    with pytest.raises(InputError, match="uv: 1 non-finite"):
        lk.query(torch.tensor([1]), torch.tensor([[np.nan, 0.5]]))
    with pytest.raises(InputError, match="face: indices"):
        surface_points(torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), torch.tensor([-1]), torch.ones(1, 3) / 3)


def test_a_uv_map_that_is_no_atlas_is_refused():
    rng = np.random.default_rng(0)
    uv = rng.random((300, 2))
    faces = rng.integers(0, 300, (2000, 3))
    with pytest.raises(InputError, match="toy: its UV triangles span .* not a UV atlas"):
        UVLookup.build(uv, faces, np.ones(2000, dtype=np.int64), grid=64, name="toy")
    with pytest.raises(InputError, match="inside \\[0, 1\\]"):
        UVLookup.build(uv * 2, faces, np.ones(2000, dtype=np.int64), grid=64, name="toy")
