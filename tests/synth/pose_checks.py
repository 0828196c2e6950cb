"""Checks every sampled pose must pass, whatever the body model (used by the Anny and SMPL-X
pose tests)."""

import numpy as np

from engine.body.joint_limits import FINGER_CURL_LIMITS, JOINTS, SPREAD_LIMITS, THUMB_CURL_LIMITS, limits


def assert_pose_within_limits(s, pose_joint_names, knee_bones, family: str) -> None:
    """Anatomical angles and finger curls inside their limits; knees that only flex (about X,
    shin backwards); an upright tilt, or about 90 degrees when lying."""
    for joint in JOINTS:
        lo, hi = np.array(limits(joint), dtype=float).T
        assert np.all(np.array(s.angles[joint]) >= lo - 1e-9) and np.all(np.array(s.angles[joint]) <= hi + 1e-9), joint
    for side in ("left", "right"):
        for k, (c1, c2, c3, spread) in enumerate(s.finger_curls[side]):
            lims = THUMB_CURL_LIMITS if k == 0 else FINGER_CURL_LIMITS
            assert all(lo <= c <= hi for c, (lo, hi) in zip((c1, c2, c3), lims))
            assert SPREAD_LIMITS[0] <= spread <= SPREAD_LIMITS[1]
    for bone in knee_bones:
        rotvec = s.body_pose[pose_joint_names.index(bone)]
        assert rotvec[0] >= 0 and np.allclose(rotvec[1:], 0, atol=1e-6)
    tilt = np.degrees(np.linalg.norm(s.global_orient))
    assert (70 < tilt < 110) if family == "lying" else tilt < 65
