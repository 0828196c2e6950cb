"""Units and up axis are the user's: the bundled capture with its world turned Y-up and
written in millimetres reconstructs to the same body, reported and written in that frame.
Sequences: rotations filtered as rotations."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from engine.io.calibration import Calibration, read_calibration, write_calibration_json
from engine.pipeline.smoothing import smooth_linear, smooth_rotvecs
from engine.pipeline.world import AXES, WorldFrame, find_world

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pose2sim_balancing"
# x_new = M x_lab * 1000: the lab's Z-up metres -> Y-up millimetres (a right-handed turn)
M = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])


@pytest.fixture(scope="module")
def reconstructor():
    from engine.pipeline.reconstructor import Reconstructor

    return Reconstructor.from_pretrained()


@pytest.mark.slow
def test_millimetres_and_y_up_reconstruct_to_the_same_body(tmp_path, reconstructor):
    from helpers import reconstruct_to

    calib = read_calibration(EXAMPLE / "calibration" / "Calib.toml")
    moved = Calibration([replace(c, R_cam_world=c.R_cam_world @ M.T, t_cam_world=c.t_cam_world * 1000.0)
                         for c in calib.cameras], calib.source, "json")
    write_calibration_json(moved, tmp_path / "cameras.json")
    a = reconstruct_to(EXAMPLE / "videos", tmp_path / "lab", EXAMPLE / "calibration" / "Calib.toml", "0",
                           reconstructor=reconstructor)
    b = reconstruct_to(EXAMPLE / "videos", tmp_path / "mm", tmp_path / "cameras.json", "0",
                           reconstructor=reconstructor)
    assert (a["unit"], a["up_axis"], a["world_units_per_metre"]) == ("m", "+Z", 1.0)
    assert (b["unit"], b["up_axis"], b["world_units_per_metre"]) == ("mm", "+Y", 1000.0)
    va = np.load(tmp_path / "lab" / "fit.npz")["vertices"]
    vb = np.load(tmp_path / "mm" / "fit.npz")["vertices"]
    back = vb @ M / 1000.0  # the Y-up millimetres back in the lab's frame
    assert np.median(np.linalg.norm(back - va, axis=1)) < 0.01  # the same body within 1 cm
    # float32 fits of the two frames end within a pixel or two of each other
    assert abs(a["landmark_reprojection_px"] - b["landmark_reprojection_px"]) < 2.0
    record = json.loads((tmp_path / "mm" / "fit.json").read_text())
    assert record["world"]["up_axis"] == "+Y" and record["cameras"][0]["name"] == "cam01"
    np.testing.assert_allclose(record["cameras"][2]["t_cam_world"], moved.cameras[2].t_cam_world, atol=1e-9)


def test_the_user_params_rebuild_the_user_vertices(tmp_path):
    """fit.npz's params_* are in the user's frame: the body model's forward pass gives its vertices."""
    from engine.body import load_body_model
    from engine.body.base import BodyParams
    from engine.io.reconstruction import user_params

    body = load_body_model("anny", dtype=torch.float64)
    p = body.neutral_params(1)
    p = BodyParams(torch.tensor([[0.1, -0.4, 0.3]], dtype=torch.float64), torch.tensor([[0.2, 0.1, 0.9]],
                   dtype=torch.float64), p.body_pose, p.shape, torch.tensor([1.05], dtype=torch.float64))
    world = WorldFrame(1000.0, "mm", "+Y", 0.0)
    rec = type("R", (), {"params": p, "world": world})()
    user = {k: torch.as_tensor(v) for k, v in user_params(rec).items()}
    rebuilt = body(BodyParams(user["global_orient"], user["transl"], user["body_pose"], user["shape"],
                              user["scale"])).vertices[0].numpy()
    expected = world.points_to_user(body(p).vertices[0].numpy())
    np.testing.assert_allclose(rebuilt, expected, atol=1e-6)


def test_find_world_units_and_axes():
    names = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_elbow", "right_elbow", "left_wrist",
             "right_wrist", "left_knee", "right_knee", "left_ankle", "right_ankle")
    ref = np.array([[0.18, 0, 1.4], [-0.18, 0, 1.4], [0.1, 0, 0.95], [-0.1, 0, 0.95], [0.2, 0, 1.12], [-0.2, 0, 1.12],
                    [0.22, 0, 0.88], [-0.22, 0, 0.88], [0.1, 0, 0.52], [-0.1, 0, 0.52], [0.1, 0, 0.1], [-0.1, 0, 0.1]])
    for axis in AXES:
        for units, unit in ((1.0, "m"), (100.0, "cm"), (1000.0, "mm"), (1 / 0.0254, "in")):
            frame = WorldFrame(units, unit, axis, 0.0)
            pts = frame.points_to_user(ref * 1.05)[None]  # a person 5% larger than the reference
            found = find_world(pts, names, ref)
            assert (found.unit, found.up_axis) == (unit, axis) and found.units_per_metre == units
    odd = find_world((ref * 5.5)[None], names, ref)  # photogrammetry units: kept as measured
    assert odd.unit == "custom" and odd.units_per_metre == pytest.approx(5.5, rel=1e-6)


def test_rotations_are_filtered_as_rotations():
    frames = np.arange(20)
    angle = torch.linspace(0.0, 1.0, 20, dtype=torch.float64)
    rotvec = angle[:, None] * torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    q = roma.rotvec_to_unitquat(rotvec)
    flipped = roma.unitquat_to_rotvec(torch.where((torch.arange(20) % 2 == 0)[:, None], q, -q))  # same rotations
    smooth = smooth_rotvecs(flipped, frames, sigma=1.5)
    # a steady turn stays a steady turn (interior frames), whatever the quaternions' signs
    np.testing.assert_allclose(smooth[5:-5, 2].numpy(), angle[5:-5].numpy(), atol=1e-6)
    noisy = rotvec + torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.05
    err = lambda r: roma.rotmat_geodesic_distance(roma.rotvec_to_rotmat(r), roma.rotvec_to_rotmat(rotvec))  # noqa: E731
    assert err(smooth_rotvecs(noisy, frames, 1.5))[3:-3].mean() < err(noisy)[3:-3].mean() * 0.7
    # frames 10 apart are not averaged by a 1-frame filter
    np.testing.assert_allclose(smooth_linear(rotvec, frames * 10, 1.0).numpy(), rotvec.numpy())
    assert math.isfinite(float(smooth.sum()))


@pytest.mark.slow
def test_a_sequence_keeps_each_frames_own_body(tmp_path, reconstructor):
    """Frames 0, 10, 20: each frame's fit starts from the previous one and must keep its own
    body (a fit that shared storage with the next frame's variables ended every frame at the
    last one's translation); fit.npz has a frame axis and the rate."""
    from helpers import reconstruct_to

    calib = EXAMPLE / "calibration" / "Calib.toml"
    s = reconstruct_to(EXAMPLE / "videos", tmp_path / "seq", calib, "0:30:10",
                           reconstructor=reconstructor)
    reconstruct_to(EXAMPLE / "videos", tmp_path / "one", calib, "0",
                             reconstructor=reconstructor)
    z, z1 = np.load(tmp_path / "seq" / "fit.npz"), np.load(tmp_path / "one" / "fit.npz")
    assert z["vertices"].shape[0] == 3 and list(z["frames"]) == [0, 10, 20] and float(z["fps"]) == 60.0
    assert z["params_transl"].shape == (3, 3) and z["residual_px"].shape == (3, 4)
    moved = np.linalg.norm(np.diff(z["params_transl"], axis=0), axis=1)
    assert (moved > 1e-3).all(), moved  # the person moves between frames 0, 10 and 20
    # frame 0 of the sequence is frame 0 fitted alone (10 frames apart, the 1-frame filter leaves
    # it), but for the one shape and scale the sequence keeps (the frames' mean: about 1 cm here)
    assert np.median(np.linalg.norm(z["vertices"][0] - z1["vertices"], axis=1)) < 0.02
    assert s["frames"] == 3 and s["landmark_reprojection_px"] < 20


def test_the_rig_skins_its_rest_mesh_into_the_fitted_vertices(tmp_path, anny64):
    """fit.npz's rig (Anny's rest bones for the fitted shape, its skinning, each frame's bone
    poses; user frame and units) reproduces fit.npz's vertices at every frame."""
    from helpers import random_pose, write_body_fit

    from engine.io.rig import rig_arrays, skin

    p = random_pose(anny64, 3, 0.3, seed=1)
    p.shape[:], p.scale[:] = p.shape[:1].clone(), p.scale[:1].clone()  # one body, three poses
    world = WorldFrame(1000.0, "mm", "+Y", 0.0)
    write_body_fit(tmp_path / "seq", anny64, p, world)
    z = np.load(tmp_path / "seq" / "fit.npz")  # no pickles: numpy alone reads it
    names, parents = list(z["rig_bone_names"]), z["rig_parents"]
    assert names[:3] == ["root", "pelvis.L", "upperleg01.L"] and len(names) == 104 and "head" in names
    assert parents[0] == -1 and all(0 <= parents[j] < j for j in range(1, len(parents)))
    assert z["rig_pose"].shape == (3, 104, 4, 4) and z["skin_index"].shape == z["skin_weight"].shape
    np.testing.assert_allclose(z["skin_weight"].sum(1), 1.0, atol=1e-6)
    R = z["rig_rest"][:, :3, :3]
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-9)
    posed = skin(z["rest_vertices"], z["skin_index"], z["skin_weight"], z["rig_rest"], z["rig_pose"])
    error_m = np.linalg.norm(posed - z["vertices"], axis=-1).max(axis=-1) / 1000.0
    assert error_m.max() < 1e-5, error_m
    np.testing.assert_allclose(z["rig_vertex_error"] / 1000.0, error_m, atol=1e-9)
    assert z["rest_vertices"][:, 1].min() == pytest.approx(0.0)  # the rest pose stands on the floor (+Y up)
    assert z["uv_faces"].shape == z["faces"].shape and z["uv_coords"].shape[1] == 2
    assert json.loads((tmp_path / "seq" / "fit.json").read_text())["rig"]["rest_shape_frame"] == 0

    one = write_body_fit(tmp_path / "one", anny64, p.__class__(*(x[1:2] for x in vars(p).values())), world)
    z1 = np.load(one / "fit.npz")
    assert z1["rig_pose"].shape == (104, 4, 4) and z1["rig_vertex_error"].shape == ()

    drift = p.__class__(**vars(p))
    drift.shape = p.shape + torch.tensor([[0.0], [0.05], [0.1]], dtype=p.shape.dtype)  # the shape drifts
    fitted = world.points_to_user(anny64(drift).vertices.detach().numpy())
    error = rig_arrays(anny64, drift, world, fitted)["rig_vertex_error"]  # the first frame's shape throughout
    assert error[0] < 1e-3 and 1.0 < error[1] < error[2], error  # mm


@pytest.mark.slow
def test_refine_cameras_pulls_a_bumped_camera_back(tmp_path, reconstructor):
    """cam03 turned by 1 degree and moved 3 cm: --refine-cameras corrects the cameras with the
    body, so the landmarks line up again in cam03, while each camera stays within its prior's
    reach of the calibration given (the capture's own calibration is no exact truth either:
    it reprojects Pose2Sim's triangulation at 8-17 px)."""
    from helpers import reconstruct_to

    calib = read_calibration(EXAMPLE / "calibration" / "Calib.toml")
    bump = roma.rotvec_to_rotmat(torch.tensor([0.0, math.radians(1.0), 0.0], dtype=torch.float64)).numpy()
    cams = [replace(c, R_cam_world=bump @ c.R_cam_world, t_cam_world=c.t_cam_world + [0.03, 0, 0])
            if c.name == "cam03" else c for c in calib.cameras]
    write_calibration_json(Calibration(cams, calib.source, "json"), tmp_path / "bumped.json")
    runs = {}
    for refine in (False, True):
        runs[refine] = reconstruct_to(EXAMPLE / "videos", tmp_path / str(refine), tmp_path / "bumped.json", "0",
                                          reconstructor=reconstructor, refine_cameras=refine)
    before, after = (runs[r]["landmark_reprojection_px_per_view"][2] for r in (False, True))
    assert after < before - 3, (before, after)
    for given, refined in zip(cams, json.loads((tmp_path / "True" / "fit.json").read_text())["cameras"]):
        R = torch.tensor(refined["R_cam_world"], dtype=torch.float64)
        turn = math.degrees(float(roma.rotmat_geodesic_distance(R, torch.tensor(given.R_cam_world))))
        assert 0 < turn < 3.0, (given.name, turn)
        assert refined["K"][0][0] == pytest.approx(given.K[0][0] * 1080 / 1088 if given.name in ("cam01", "cam02")
                                                   else given.K[0][0], rel=0.05)
    assert any("cameras refined" in n for n in runs[True]["notes"])


@pytest.mark.slow
def test_openpose_keypoints_instead_of_mediapipe(tmp_path):
    """--keypoints: the bundled OpenPose BODY_25B files (bystanders included) drive the fit; the
    CLI prints its summary though there is no mask to score."""
    from typer.testing import CliRunner

    from engine.cli.main import app

    result = CliRunner().invoke(app, ["reconstruct", str(EXAMPLE / "videos"), "--calibration",
                                      str(EXAMPLE / "calibration" / "Calib.toml"), "--keypoints",
                                      str(EXAMPLE / "pose2d_openpose_body25b"), "--frames", "0:20:10", "--out",
                                      str(tmp_path / "kp"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 2 and summary["mask_iou"] is None
    assert summary["landmark_reprojection_px"] < 20  # the person, not a bystander
    assert (tmp_path / "kp" / "keypoints" / "frame_000010.npz").exists()


@pytest.mark.slow
def test_refine_cameras_keeps_every_frame_of_a_sequence_on_the_person(tmp_path, reconstructor):
    """--refine-cameras on frames 0, 10, 20: the frames after the first are fitted with the
    refined cameras held (they used to be refined again, and then drawn with the first frame's:
    28-69 px off), and the rig stays on the calibration (no common drift of the cameras)."""
    from helpers import reconstruct_to

    calib_path = EXAMPLE / "calibration" / "Calib.toml"
    runs = {refine: reconstruct_to(EXAMPLE / "videos", tmp_path / str(refine), calib_path, "0:30:10",
                                       reconstructor=reconstructor, refine_cameras=refine) for refine in (False, True)}
    per_frame = {r: np.nanmedian(np.load(tmp_path / str(r) / "fit.npz")["residual_px"], axis=1) for r in runs}
    assert (per_frame[True] < per_frame[False] + 2.0).all(), per_frame
    assert any("cameras refined" in n or "calibration is kept" in n for n in runs[True]["notes"]), runs[True]["notes"]
    given = read_calibration(calib_path)
    refined = json.loads((tmp_path / "True" / "fit.json").read_text())["cameras"]
    centre = lambda R, t: -np.asarray(R).T @ np.asarray(t)  # noqa: E731
    mean_given = np.mean([centre(c.R_cam_world, c.t_cam_world) for c in given.cameras], axis=0)
    mean_refined = np.mean([centre(c["R_cam_world"], c["t_cam_world"]) for c in refined], axis=0)
    assert np.linalg.norm(mean_refined - mean_given) < 0.01


@pytest.mark.slow
def test_refine_cameras_kept_as_calibrated_scores_at_the_images_sizes(tmp_path, reconstructor):
    """When the refined cameras do not help (a prior that holds them), the calibration is kept
    and the frame is scored and written with it at the videos' sizes (cam01/cam02 are 1080
    wide, calibrated at 1088), as without the flag."""
    from helpers import reconstruct_to

    calib_path = EXAMPLE / "calibration" / "Calib.toml"
    before = reconstructor.options
    try:
        reconstructor.options = replace(before, camera_prior=1e9)
        kept = reconstruct_to(EXAMPLE / "videos", tmp_path / "kept", calib_path, "0",
                                  reconstructor=reconstructor, refine_cameras=True)
    finally:
        reconstructor.options = before
    plain = reconstruct_to(EXAMPLE / "videos", tmp_path / "plain", calib_path, "0",
                               reconstructor=reconstructor)
    assert any("the calibration is kept" in n for n in kept["notes"]), kept["notes"]
    cams = json.loads((tmp_path / "kept" / "fit.json").read_text())["cameras"]
    assert [c["width"] for c in cams] == [1080, 1080, 1088, 1088]
    np.testing.assert_allclose(kept["landmark_reprojection_px_per_view"], plain["landmark_reprojection_px_per_view"],
                               atol=0.05)


def test_the_engine_cameras_keep_each_views_image_size():
    """cam01 and cam02 of the bundled capture are 1080 wide, the others 1088: each engine camera
    keeps its own (it was the widest for all)."""
    from engine.pipeline.reconstructor import Reconstructor

    calib = read_calibration(EXAMPLE / "calibration" / "Calib.toml")
    calib = Calibration([c.scaled(1080, 1920) if c.name in ("cam01", "cam02") else c for c in calib.cameras],
                        calib.source, calib.format)
    cams = Reconstructor.engine_cameras(None, calib, WorldFrame(1.0, "m", "+Z", 0.0))
    assert cams.sizes == [(c.width, c.height) for c in calib.cameras]
    assert sorted(set(cams.widths)) == [1080, 1088]
