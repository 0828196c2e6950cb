"""The overlays cast rays only inside the box the body projects to: the same part ids as
casting every pixel of the full-size image."""

import numpy as np
import trimesh

from engine.io.reconstruction import _body_seg
from engine.proxy.raycast import ProxyRenderer


def test_the_boxed_cast_equals_the_full_cast():
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    faces = np.asarray(mesh.faces)
    part = (np.arange(len(faces)) % 5 + 1).astype(np.uint8)
    renderer = ProxyRenderer(np.asarray(mesh.vertices), faces, part, np.zeros((len(mesh.vertices), 2)), faces)
    K = np.array([[300.0, 0, 151.3], [0, 310.0, 98.7], [0, 0, 1]])
    R = np.eye(3)
    seen = []
    for t in ([0.2, -0.1, 2.0], [1.1, 0.0, 2.0], [5.0, 0.0, 2.0], [0.0, 0.0, 0.2]):  # inside, at the edge, out, around
        t = np.asarray(t)
        full = renderer.render(K, R, t, 320, 200).seg
        boxed = _body_seg(renderer, np.asarray(mesh.vertices), K, R, t, 320, 200)
        np.testing.assert_array_equal(boxed, full)
        seen.append(int((full > 0).sum()))
    assert seen[0] > 1000 and 0 < seen[1] < seen[0] and seen[2] == 0 and seen[3] > 0, seen
