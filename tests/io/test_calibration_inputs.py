"""Calibrations a user brings that the readers once got wrong (issue 23): cameras sharing one
centre, COLMAP images.txt without its POINTS2D lines, a folder with a foreign cameras.json
beside a readable calibration. Real files, written in each
format's own layout (the writers of test_calibration)."""

import json
from dataclasses import replace

import numpy as np
import pytest
from test_calibration import (assert_same_cameras, known_cameras, look_at, real_calib, write_colmap, write_easymocap,
                              write_json, write_toml)

from engine.errors import InputError
from engine.io.calibration import check_baselines, read_calibration
from engine.io.calibration.rotations import matrix_to_quaternion

# ---- coincident cameras (issue 23 item 7): check_baselines, on the cameras a reconstruction uses


def _at(cam, center, target=(0.0, 0.0, 1.0)):
    R, t = look_at(center, target)
    return replace(cam, R_cam_world=R, t_cam_world=t)


def test_cameras_sharing_one_pose_are_refused_naming_them(tmp_path):
    cams = known_cameras()
    same = [replace(c, R_cam_world=cams[0].R_cam_world, t_cam_world=cams[0].t_cam_world) for c in cams]
    with pytest.raises(InputError) as info:
        check_baselines(read_calibration(write_json(tmp_path, same)))
    message = str(info.value)
    assert "\n" not in message
    for word in ("cameras.json", "cam01", "cam02", "cam03", "centre"):
        assert word in message, (word, message)


def test_cameras_at_one_centre_looking_apart_are_refused(tmp_path):
    """Two cameras at one centre (a pure rotation between them): no baseline, in every format."""
    cams = known_cameras()[:2]
    cams[1] = _at(cams[1], cams[0].center_world, target=(3.0, 3.0, 0.5))
    for writer in (write_toml, write_easymocap, write_colmap, write_json):
        folder = tmp_path / writer.__name__
        folder.mkdir()
        with pytest.raises(InputError, match=r"cam01.*cam02.*centre"):
            check_baselines(read_calibration(writer(folder, cams)))


def test_at_the_origin_all_cameras_are_refused(tmp_path):
    cams = [replace(c, t_cam_world=np.zeros(3)) for c in known_cameras()]
    with pytest.raises(InputError, match=r"cam01.*cam02.*cam03.*centre"):
        check_baselines(read_calibration(write_json(tmp_path, cams)))


def test_one_coincident_pair_among_several_is_refused_naming_the_pair(tmp_path):
    cams = known_cameras()
    cams[2] = _at(cams[2], cams[0].center_world + [0.0, 0.0, 1e-6])  # a camera copied onto another
    with pytest.raises(InputError) as info:
        check_baselines(read_calibration(write_toml(tmp_path, cams)))
    message = str(info.value)
    assert "cam01" in message and "cam03" in message and "cam02" not in message, message


def test_single_camera_and_close_but_distinct_cameras_are_accepted(tmp_path):
    cams = known_cameras()
    check_baselines(read_calibration(write_json(tmp_path, cams)).subset(["cam02"]))
    same = [replace(c, R_cam_world=cams[0].R_cam_world, t_cam_world=cams[0].t_cam_world) for c in cams]
    check_baselines(read_calibration(write_json(tmp_path, same)).subset(["cam03"]))  # the others left out
    cams[2] = _at(cams[2], cams[0].center_world + [0.0, 0.15, 0.0])  # a second camera on one tripod
    check_baselines(read_calibration(write_json(tmp_path, cams)))
    check_baselines(read_calibration(real_calib()))


def test_coincident_cameras_are_read_as_they_are(tmp_path):
    """Reading does not refuse them (the add-on shows such cameras); check_baselines does."""
    cams = known_cameras()
    same = [replace(c, R_cam_world=cams[0].R_cam_world, t_cam_world=cams[0].t_cam_world) for c in cams]
    assert read_calibration(write_json(tmp_path, same)).names() == ["cam01", "cam02", "cam03"]


# ---- COLMAP images.txt: two lines per image, the second (POINTS2D) possibly empty or missing

def _colmap_images(cams, points: list[str | None]) -> str:
    """images.txt for ``cams``; ``points[i]`` the POINTS2D line after image i, None: no line."""
    text = "# Image list with two lines of data per image:\n"
    for i, (c, p) in enumerate(zip(cams, points), start=1):
        pose = [*matrix_to_quaternion(c.R_cam_world), *c.t_cam_world]
        text += f"{i} {' '.join(repr(float(v)) for v in pose)} {i} {c.name}/frame_000.png\n"
        text += "" if p is None else p + "\n"
    return text


@pytest.mark.parametrize("points", [[None, None, None], ["", None, "1.5 2.5 -1"], [None, "", None],
                                    ["10.0 20.0 3 30.0 40.0 -1 50.0 60.0 4 70.0 80.0 -1", None, None]],
                         ids=["no points lines", "mixed", "empty middle", "long points line"])
def test_colmap_images_without_points_lines_keep_every_camera(tmp_path, points):
    write_colmap(tmp_path)
    (tmp_path / "sparse/0/images.txt").write_text(_colmap_images(known_cameras(), points))
    calib = read_calibration(tmp_path)
    assert_same_cameras(calib.cameras, known_cameras())


@pytest.mark.parametrize("bad,line", [("1.5 2.5", 3), ("x y z", 3), ("1 0.5 0.5 0.5 oops 0 0 0 1 a.png", 3)])
def test_colmap_images_line_that_does_not_parse_is_named(tmp_path, bad, line):
    write_colmap(tmp_path)
    cams = known_cameras()
    text = _colmap_images(cams, [bad, "", ""])
    (tmp_path / "sparse/0/images.txt").write_text(text)
    with pytest.raises(InputError) as info:
        read_calibration(tmp_path)
    message = str(info.value)
    assert "images.txt" in message and f"line {line}" in message, message


# ---- a folder with more than one candidate calibration

FOREIGN = {"kind": "blender.cameras", "cameras": [{"name": "Camera", "lens": 50}]}


def test_foreign_cameras_json_beside_easymocap_is_ignored_with_a_note(tmp_path):
    write_easymocap(tmp_path)
    (tmp_path / "cameras.json").write_text(json.dumps(FOREIGN))
    calib = read_calibration(tmp_path)
    assert calib.format == "easymocap"
    assert_same_cameras(calib.cameras, known_cameras())
    assert len(calib.notes) == 1 and "cameras.json" in calib.notes[0] and "ignored" in calib.notes[0], calib.notes
    assert calib.subset(["cam02"]).notes == calib.notes


def test_two_readable_calibrations_that_agree_are_used_with_a_note(tmp_path):
    write_toml(tmp_path)
    write_json(tmp_path)
    calib = read_calibration(tmp_path)
    assert_same_cameras(calib.cameras, known_cameras())
    assert any("calibration.toml" in n and "cameras.json" in n for n in calib.notes), calib.notes


def test_two_readable_calibrations_that_disagree_are_refused_naming_both(tmp_path):
    write_easymocap(tmp_path)
    cams = known_cameras()
    cams[1].t_cam_world = cams[1].t_cam_world + [0.5, 0.0, 0.0]
    write_json(tmp_path, cams)
    with pytest.raises(InputError) as info:
        read_calibration(tmp_path)
    message = str(info.value)
    for word in ("intri.yml", "cameras.json", "cam02", "disagree"):
        assert word in message, (word, message)


def test_folder_whose_only_calibrations_are_unreadable_says_why(tmp_path):
    (tmp_path / "cameras.json").write_text(json.dumps(FOREIGN))
    with pytest.raises(InputError, match=r"cameras\.json.*kind.*blender\.cameras"):
        read_calibration(tmp_path)
