import numpy as np

from synth.cameras import CameraConfig, sample_cameras
from synth.occluders import OccluderConfig, box_contains, sample_occluders, sample_seat


def test_occluders_avoid_body_and_cameras(anny64):
    vertices = anny64(anny64.neutral_params(1)).vertices[0].numpy()
    vertices = vertices - [0, 0, vertices[:, 2].min()]
    cams = sample_cameras(np.random.default_rng(0), CameraConfig(), vertices.mean(0), 1.7)
    centers = np.array([np.asarray(c["blender"]["matrix_world"])[:3, 3] for c in cams])
    cfg = OccluderConfig(count=(3, 3))
    placements = set()
    for seed in range(10):
        occ = sample_occluders(np.random.default_rng(seed), cfg, vertices, centers)
        assert occ == sample_occluders(np.random.default_rng(seed), cfg, vertices, centers)
        assert 1 <= len(occ) <= 3
        for o in occ:
            assert not box_contains(o, vertices, 0.0).any()
            assert not box_contains(o, centers, 0.2).any()
            placements.add(o["placement"])
    assert placements == {"between", "touching"}
    assert sample_occluders(np.random.default_rng(0), OccluderConfig(count=(0, 0)), vertices, centers) == []


def test_seat_sits_below_the_thighs():
    rng = np.random.default_rng(0)
    # A crude sitting body: thighs at z = 0.5 reaching toward -y, shins down to the floor.
    thighs = np.stack(np.meshgrid(np.linspace(-0.2, 0.2, 9), np.linspace(-0.45, 0.05, 11), [0.5]), -1).reshape(-1, 3)
    shins = np.stack(np.meshgrid(np.linspace(-0.2, 0.2, 5), [-0.47], np.linspace(0, 0.5, 9)), -1).reshape(-1, 3)
    vertices = np.concatenate([thighs, shins])
    seat = sample_seat(rng, vertices, np.array([0, 0, 0.6]), np.array([0, -0.45, 0.5]), np.array([[5.0, 0, 1]]))
    assert seat is not None and 0.45 < seat["size"][2] < 0.5 and seat["size"][0] >= 0.3
    assert not box_contains(seat, vertices, 0.0).any()
    # Nothing to sit on: the body's lowest points under the pelvis are its feet.
    standing = np.stack(np.meshgrid(np.linspace(-0.2, 0.2, 5), [0.0], np.linspace(0, 1.6, 30)), -1).reshape(-1, 3)
    assert sample_seat(rng, standing, np.array([0, 0, 0.9]), np.array([0, -0.05, 0.5]), np.array([[5.0, 0, 1]])) is None
