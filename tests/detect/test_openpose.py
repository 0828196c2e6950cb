"""OpenPose JSON: the bundled BODY_25B files, and small COCO / BODY_25 files written here."""

import json

import numpy as np
import pytest

from engine.detect.openpose import (OPENPOSE_TO_MEDIAPIPE, list_openpose_files, openpose_order,
                                    openpose_people, openpose_to_detection, read_openpose_folder,
                                    read_openpose_json)
from engine.detect.types import BODY_INDEX, BODY_LANDMARKS
from engine.errors import InputError

COCO_NAMES = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip",
              "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar")
BODY25_NAMES = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
                "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
                "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
BODY25B_NAMES = ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
                 "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "UpperNeck",
                 "HeadTop", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
OPENPOSE_NAME = {"nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar",
                 "right_ear": "REar", "left_heel": "LHeel", "right_heel": "RHeel",
                 "left_foot_index": "LBigToe", "right_foot_index": "RBigToe"}
for side, s in (("left", "L"), ("right", "R")):
    for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        OPENPOSE_NAME[f"{side}_{j}"] = s + j.capitalize()


def write_json(path, people):
    path.write_text(json.dumps({"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": np.asarray(p).ravel().tolist()} for p in people]}))


@pytest.mark.parametrize("order,names", [("BODY_25B", BODY25B_NAMES), ("BODY_25", BODY25_NAMES), ("COCO", COCO_NAMES)])
def test_slot_map_matches_the_keypoint_names(order, names):
    table = OPENPOSE_TO_MEDIAPIPE[order]
    assert all(names[i] == OPENPOSE_NAME[slot] for slot, i in table.items())
    assert len(table) == (17 if order == "COCO" else 21)
    # a keypoint at (10 * its index, 1000 + index) lands in its slot; other slots are empty
    kp = np.array([[10.0 * i, 1000.0 + i, 0.9] for i in range(len(names))])
    det = openpose_to_detection(kp, order)
    for slot, i in table.items():
        np.testing.assert_array_equal(det.body_xy[BODY_INDEX[slot]], kp[i, :2])
    others = [BODY_INDEX[n] for n in BODY_LANDMARKS if n not in table]
    assert np.isnan(det.body_xy[others]).all() and (det.body_score[others] == 0).all()
    assert det.mask is None and np.isnan(det.hands_xy).all() and (det.hands_score == 0).all()


def test_bundled_body25b(example):
    root = example / "pose2d_openpose_body25b"
    files = list_openpose_files(root)
    assert sorted(files) == ["cam01", "cam02", "cam03", "cam04"]
    # the bundled copy keeps every 10th frame (shared/ has all 100)
    assert all(set(range(0, 100, 10)) <= set(f) and sorted(f) == sorted(files["cam01"]) for f in files.values())
    people = openpose_people(root, "cam01", 0)
    assert len(people) == 2 and all(p.shape == (25, 3) for p in people)   # the person and a bystander
    frames = read_openpose_folder(root / "cam03_json")
    assert sorted(frames) == sorted(files["cam03"]) and openpose_order(25, root / "cam03_json") == "BODY_25B"
    np.testing.assert_array_equal(frames[0][0], read_openpose_json(files["cam03"][0])[0])
    det = openpose_to_detection(max(people, key=lambda p: np.ptp(p[p[:, 2] > 0, 1])), "BODY_25B")
    ls, la = det.body_xy[BODY_INDEX["left_shoulder"]], det.body_xy[BODY_INDEX["left_ankle"]]
    assert la[1] - ls[1] > 500   # upright, ankles well below shoulders
    assert 600 < det.height < 1000


def test_coco_and_body25_files(tmp_path):
    coco = tmp_path / "coco_json"
    coco.mkdir()
    kp = np.array([[10.0 * i, 5.0 * i, 0.8] for i in range(18)])
    kp[3] = 0   # a missing right elbow
    write_json(coco / "video_000000000000_keypoints.json", [kp])
    write_json(coco / "video_000000000001_keypoints.json", [kp, kp + [1, 1, 0]])
    frames = read_openpose_folder(coco)
    assert sorted(frames) == [0, 1] and len(frames[1]) == 2
    det = openpose_to_detection(frames[0][0], openpose_order(18, coco))
    assert np.isnan(det.body_xy[BODY_INDEX["right_elbow"]]).all() and det.body_score[BODY_INDEX["right_elbow"]] == 0
    np.testing.assert_array_equal(det.body_xy[BODY_INDEX["left_hip"]], kp[11, :2])
    b25 = tmp_path / "body25"
    b25.mkdir()
    write_json(b25 / "f.0007.json", [np.ones((25, 3))])
    assert openpose_order(25, b25) == "BODY_25" and openpose_order(25, tmp_path / "x_body25B") == "BODY_25B"
    assert openpose_order(25, b25, order="BODY_25B") == "BODY_25B"
    assert list(read_openpose_folder(b25, order="BODY_25B")) == [7]
    with pytest.raises(InputError, match="COCO"):
        read_openpose_folder(b25, order="COCO")


def test_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.json"):
        read_openpose_json(tmp_path / "missing.json")
    bad = tmp_path / "cam01.0003.json"
    bad.write_text('{"people": [{"pose_keypoints_2d": [1, 2')
    with pytest.raises(InputError, match="cam01.0003.json"):
        read_openpose_json(bad)
    bad.write_text('{"people": [{"pose_keypoints_2d": [1, 2]}]}')
    with pytest.raises(InputError, match="cam01.0003.json"):
        read_openpose_json(bad)
    write_json(bad, [np.ones((19, 3))])
    with pytest.raises(InputError, match=r"cam01.0003.json.*19 keypoints"):
        read_openpose_folder(tmp_path)
    with pytest.raises(InputError, match="order"):
        openpose_to_detection(np.ones((18, 3)), "BODY_18")
    with pytest.raises(InputError, match="no such OpenPose folder"):
        list_openpose_files(tmp_path / "nothing")


def test_deeply_nested_file_is_one_line(tmp_path):
    """A hostile --keypoints file (100000 nested lists) is refused naming it, not a RecursionError."""
    bad = tmp_path / "cam01_json" / "000000.json"
    bad.parent.mkdir()
    bad.write_text('{"people": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(InputError, match=f"{bad}: not valid JSON for this program: nested"):
        read_openpose_json(bad)
