"""Shared test helpers (importable as ``helpers``: pytest puts tests/ on sys.path)."""

import torch


def random_pose(body, batch: int, scale: float, seed: int, rot_dim: int = 3):
    """Params with random pose, shape and placement, in the body's dtype."""
    g = torch.Generator().manual_seed(seed)
    p = body.neutral_params(batch)
    kw = dict(generator=g, dtype=torch.float64)
    p.body_pose = (scale * torch.randn(p.body_pose.shape, **kw)).to(body.dtype)
    p.global_orient = torch.randn(batch, 3, **kw).to(body.dtype)
    p.transl = torch.randn(batch, 3, **kw).to(body.dtype)
    p.shape = torch.rand(p.shape.shape, **kw).to(body.dtype)
    p.scale = (0.8 + 0.4 * torch.rand(batch, **kw)).to(body.dtype)
    return p


def write_fake_smplx(path, seed: int = 0):
    """A structurally valid SMPL-X model file: every key and shape of SMPLX_NEUTRAL.npz
    (v1.0 layout: 10 shape + 10 expression components), random contents. Real SMPL-X files
    are licensed and never available to the tests."""
    import numpy as np

    rng = np.random.default_rng(seed)
    V, F, T, J = 10475, 20908, 11313, 55
    weights = rng.random((V, J)) ** 8
    weights /= weights.sum(axis=1, keepdims=True)
    regressor = rng.random((J, V)) ** 16
    regressor /= regressor.sum(axis=1, keepdims=True)
    from smplx.joint_names import JOINT_NAMES  # noqa: F401  (the joint order the file follows)

    parents = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                        20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                        21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53])
    kintree = np.stack([parents, np.arange(J)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # as in the real files
    np.savez(
        path,
        v_template=(rng.standard_normal((V, 3)) * [0.2, 0.5, 0.1]).astype(np.float32),
        f=rng.integers(0, V, (F, 3)).astype(np.uint32),
        weights=weights.astype(np.float32), J_regressor=regressor.astype(np.float32), kintree_table=kintree,
        shapedirs=(0.01 * rng.standard_normal((V, 3, 20))).astype(np.float32),
        posedirs=(0.001 * rng.standard_normal((V, 3, (J - 1) * 9))).astype(np.float32),
        hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
        hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
        lmk_faces_idx=rng.integers(0, F, 51), lmk_bary_coords=np.full((51, 3), 1 / 3),
        dynamic_lmk_faces_idx=rng.integers(0, F, (79, 17)), dynamic_lmk_bary_coords=np.full((79, 17, 3), 1 / 3),
        # an atlas-like UV map: small triangles along a random walk, which overlap each other
        vt=np.clip(0.5 + np.cumsum(rng.normal(0, 0.004, (T, 2)), axis=0), 0, 1),
        ft=(np.arange(F)[:, None] % (T - 2) + np.arange(3)).astype(np.uint32),
    )
    return path


def ring_cameras(n: int = 4, size: int = 256, radius: float = 3.0, seed: int = 0, dtype=torch.float64):
    """n cameras on a ring around the origin at chest height, looking at the origin."""
    from engine.geometry import Cameras

    g = torch.Generator().manual_seed(seed)
    Ks, Rs, ts = [], [], []
    for i in range(n):
        a = 2 * torch.pi * i / n + 0.3 * torch.rand(1, generator=g, dtype=dtype).item()
        c = torch.tensor([radius * torch.cos(torch.tensor(a)), radius * torch.sin(torch.tensor(a)),
                          0.3 + 0.5 * torch.rand(1, generator=g).item()], dtype=dtype)
        forward = -c / c.norm()
        right = torch.linalg.cross(forward, torch.tensor([0, 0, 1.0], dtype=dtype))
        right = right / right.norm()
        down = torch.linalg.cross(forward, right)
        R = torch.stack([right, down, forward])  # rows: camera axes in the world
        f = size * (1.2 + 0.3 * torch.rand(1, generator=g).item())
        Ks.append(torch.tensor([[f, 0, size / 2 - 0.5 + 5], [0, f, size / 2 - 0.5 - 3], [0, 0, 1]], dtype=dtype))
        Rs.append(R)
        ts.append(-R @ c)
    return Cameras(torch.stack(Ks), torch.stack(Rs), torch.stack(ts), size, size)


def write_proxy_scene(folder, index: int, body, proxy, size: int, views: int, images: str = "blank"):
    """A scene folder with exact proxies (the synth proxy pass) of a randomly posed body and
    ring cameras, no Blender. ``images``: "blank" (grey) or "palette" (each view's part
    palette image, shaded: an image that determines its proxy, for learning tests)."""
    import json

    import numpy as np
    from PIL import Image

    from engine.io.scene import GT_KEYS
    from engine.proxy.parts import PALETTE
    from engine.proxy.raycast import ProxyRenderer

    SIZE, VIEWS = size, views
    p = body.neutral_params(1)
    g = torch.Generator().manual_seed(index)
    p.body_pose = 0.15 * torch.randn(p.body_pose.shape, generator=g, dtype=torch.float64).to(body.dtype)
    p.global_orient = torch.tensor([[0.0, 0.0, 0.5 + index]], dtype=body.dtype)
    p.transl = torch.tensor([[0.0, 0.0, 0.2]], dtype=body.dtype)
    out = body(p)
    cams = ring_cameras(VIEWS, size=SIZE, seed=index)
    renderer = ProxyRenderer(out.vertices[0].double().numpy(), body.faces.numpy(),
                             proxy.part_table.face_part.numpy(), body.uv_coords.numpy(), body.uv_faces.numpy())
    rendered = [renderer.render(cams.K[v].numpy(), cams.R_cam_world[v].numpy(), cams.t_cam_world[v].numpy(), SIZE, SIZE)
                for v in range(VIEWS)]
    (folder / "images").mkdir(parents=True)
    for v in range(VIEWS):
        image = Image.new("RGB", (SIZE, SIZE), (60, 70, 80))
        if images == "palette":
            image = Image.fromarray((PALETTE[rendered[v].seg] * 0.8 + 30).astype(np.uint8))
        image.save(folder / "images" / f"view_{v:02d}.png")
    np.savez(folder / "proxies.npz", seg=np.stack([v.seg for v in rendered]), uv=np.stack([v.uv for v in rendered]),
             depth=np.stack([np.where(np.isfinite(v.depth), v.depth, 0) for v in rendered]).astype(np.float32),
             body_mask=np.stack([v.body_mask for v in rendered]))
    gt = {k: np.zeros((VIEWS, 1)) for k in GT_KEYS}
    gt.update(vertices=out.vertices[0].double().numpy(), joints=out.joints[0].double().numpy(),
              keypoints=out.keypoints[0].double().numpy())
    np.savez(folder / "gt.npz", **gt)
    d = lambda x: x[0].double().numpy().tolist()  # noqa: E731
    record = {"schema_version": 1, "index": index, "files": {"proxies": "proxies.npz", "gt": "gt.npz"},
              "body": {"model": "anny", "params": {"global_orient": d(p.global_orient), "transl": d(p.transl),
                                                   "body_pose": d(p.body_pose), "shape": d(p.shape), "scale": 1.0}},
              "cameras": [{"K": cams.K[v].tolist(), "R_cam_world": cams.R_cam_world[v].tolist(),
                           "t_cam_world": cams.t_cam_world[v].tolist(), "width": SIZE, "height": SIZE}
                          for v in range(VIEWS)],
              "views": [{"image": f"images/view_{v:02d}.png"} for v in range(VIEWS)]}
    (folder / "scene.json").write_text(json.dumps(record))
    return p, out


def run_read_only(paths, cmd, **kwargs):
    """Run ``cmd`` with each of ``paths`` mounted read-only, in a private mount namespace
    (the tests run as root, which ignores file modes: a read-only mount is what denies it a
    write, as in a container or a shared install). Skips the test where that is not allowed."""
    import shlex
    import subprocess

    import pytest

    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no private mount namespace here (unshare -m)")
    mounts = " && ".join(f"mount --bind -o ro {shlex.quote(str(p))} {shlex.quote(str(p))}" for p in paths)
    return subprocess.run(["unshare", "-m", "sh", "-c", f'{mounts} && exec "$@"', "sh", *map(str, cmd)],
                          capture_output=True, text=True, **kwargs)


def write_body_fit(folder, body, params, world, frames=None, fps: float = 30.0):
    """A fit as ``diffproxy reconstruct`` writes it (``write_reconstruction``), of a body posed
    by ``params`` (T,) in the engine's frame, in ``world``'s frame and units; no footage: one
    camera, no scores. -> the folder."""
    from pathlib import Path
    from types import SimpleNamespace

    import numpy as np

    from engine.io.calibration import Calibration, CameraCalibration
    from engine.io.reconstruction import write_reconstruction
    from engine.pipeline.contacts import FOOT_LANDMARKS, foot_contacts
    from engine.proxy.part_table import build_part_table

    folder, T = Path(folder), params.batch_size
    with torch.no_grad():
        out = body(params)
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    cam = CameraCalibration("cam", K, np.zeros(5), np.eye(3), np.array([0, 0, 5.0]), 640, 480)
    rec = SimpleNamespace(frames=list(frames or range(T)), fps=fps, cameras=["cam"], world=world, params=params,
                          calibration=Calibration([cam], folder / "cameras.json", "json"),
                          vertices=out.vertices.double().numpy(), joints=out.joints.double().numpy(),
                          landmarks=out.keypoints.double().numpy(), landmark_names=body.keypoint_names,
                          landmark_reprojection_px=np.zeros((T, 1)), mask_iou=np.ones((T, 1)), notes=[], timings={})
    if all(set(a) & set(body.keypoint_names) for a in FOOT_LANDMARKS.values()):  # as reconstruct_frames finds them
        rec.contacts = foot_contacts(rec.landmarks, body.keypoint_names, fps)
    write_reconstruction(folder, rec, body, build_part_table(body), {})
    return folder


def reconstruct_to(capture, out, calibration=None, frames=None, *, cameras=None, reconstructor=None, **options):
    """``engine.reconstruct_into`` (what ``diffproxy reconstruct --out`` runs) with the options as
    keywords of ``ReconstructOptions``. -> the summary."""
    import engine

    return engine.reconstruct_into(out, capture, calibration, frames=frames, cameras=cameras,
                                   options=engine.ReconstructOptions(**options), reconstructor=reconstructor)
