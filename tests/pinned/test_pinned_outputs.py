"""The outputs pinned before issue 24's restructuring (see ``tests/pinned/__init__.py``): the
oracle evaluation's numbers on two written proxy scenes, and the body reconstructed from frames
40-41 of the bundled capture. A change meant to keep behaviour must keep these."""

from pathlib import Path

import pytest
from helpers import write_proxy_scene

from pinned import check_pinned

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pose2sim_balancing"

# evaluate's key -> the name it was pinned under (evaluate's MPJPE on the 33 keypoints was mpjpe_mm)
SUMMARY_KEYS = {"keypoint_mpjpe_mm": "mpjpe_mm", "keypoint_pa_mpjpe_mm": "pa_mpjpe_mm", "mpvpe_mm": "mpvpe_mm",
                "pa_mpvpe_mm": "pa_mpvpe_mm"}


@pytest.fixture(scope="module")
def two_scenes(tmp_path_factory, anny32, anny_proxy):
    root = tmp_path_factory.mktemp("pinned")
    for i in range(2):
        write_proxy_scene(root / f"scene_{i:06d}", i, anny32, anny_proxy, 64, 4)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("corrupt", [0.0, 0.3])
def test_the_oracle_evaluation_is_as_pinned(two_scenes, corrupt):
    from engine.evaluation.proxies import EvalConfig, evaluate

    result = evaluate(two_scenes, EvalConfig(corrupt=corrupt, samples=2))
    values = {f"{row['scene']}/{pinned}": row[k] for row in result["scenes"] for k, pinned in SUMMARY_KEYS.items()}
    check_pinned(f"evaluate_gt_corrupt{corrupt}", values, atol=0.05)  # mm


@pytest.mark.slow
def test_frames_40_41_of_the_bundled_capture_are_as_pinned():
    import engine

    result = engine.reconstruct(EXAMPLE / "videos", EXAMPLE / "calibration" / "Calib.toml", frames="40:42",
                                options=engine.ReconstructOptions(overlay_scale=0.25))
    user = result.world.points_to_user
    p = result.params
    values = {"landmarks": user(result.landmarks), "vertices": user(result.vertices)[:, ::50],
              "joints": user(result.joints), "transl": p.transl, "global_orient": p.global_orient,
              "body_pose": p.body_pose, "shape": p.shape,
              "landmark_reprojection_px": result.landmark_reprojection_px, "mask_iou": result.mask_iou}
    check_pinned("reconstruct_40_41", {k: v.detach().numpy() if hasattr(v, "detach") else v
                                       for k, v in values.items()}, atol=1e-4)
