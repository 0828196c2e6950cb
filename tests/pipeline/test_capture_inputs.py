"""Opening a capture (``open_capture``) on footage a user brings, checked before anything is
detected (issue 23): symbolic link loops, truncated JPEG frames, cameras at different frame
rates, and the user's choice of cameras. Real files: small videos written with
cv2.VideoWriter and JPEG/PNG frames, all from the bundled example's first frames."""

import os
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.pipeline.capture import open_capture

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [_ROOT / "examples/pose2sim_balancing"] + [
    shared / "examples/pose2sim_balancing" for shared in (_ROOT / "shared", _ROOT.parent / "shared")]
EXAMPLE = next((p for p in _CANDIDATES if (p / "videos").is_dir()), _CANDIDATES[0])
CAMERAS = ["cam01", "cam02", "cam03", "cam04"]
SIZE = (160, 288)  # width, height: the example's portrait frames, small


@pytest.fixture(scope="module")
def frames() -> dict[str, list[np.ndarray]]:
    """The first 4 frames of each example camera, BGR, resized to SIZE."""
    cv2 = pytest.importorskip("cv2")
    if not (EXAMPLE / "videos").is_dir():
        pytest.skip(f"the real example is not here: {EXAMPLE}")
    out = {}
    for cam in CAMERAS:
        cap = cv2.VideoCapture(str(EXAMPLE / "videos" / f"{cam}.mp4"))
        out[cam] = [cv2.resize(cap.read()[1], SIZE, interpolation=cv2.INTER_AREA) for _ in range(4)]
        cap.release()
    return out


def write_video(path: Path, images: list[np.ndarray], fps: float = 30.0) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    assert writer.isOpened()
    for im in images:
        writer.write(im)
    writer.release()
    return path


def write_images(folder: Path, images: list[np.ndarray], suffix: str = ".jpg") -> list[Path]:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, im in enumerate(images):
        paths.append(folder / f"{i:06d}{suffix}")
        assert cv2.imwrite(str(paths[-1]), im)
    return paths


def videos(folder: Path, frames, counts=None, rates=None) -> Path:
    for cam in CAMERAS:
        n = (counts or {}).get(cam, 3)
        write_video(folder / f"{cam}.mp4", frames[cam][:n], (rates or {}).get(cam, 30.0))
    return folder


def one_line_error(*args, **kw) -> str:
    with pytest.raises(InputError) as info:
        open_capture(*args, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- symbolic link loops


def test_symlink_loop_among_videos_is_named(tmp_path, frames):
    write_video(tmp_path / "cam01.mp4", frames["cam01"][:2])
    os.symlink("cam02.mp4", tmp_path / "cam02.mp4")  # points at itself
    message = one_line_error(tmp_path, CAMERAS)
    assert "cam02.mp4" in message and "loop" in message, message


def test_symlink_loop_between_folders_is_named(tmp_path, frames):
    write_images(tmp_path / "cam01", frames["cam01"][:2])
    os.symlink("cam03", tmp_path / "cam02")
    os.symlink("cam02", tmp_path / "cam03")
    message = one_line_error(tmp_path, CAMERAS)
    assert "cam02" in message and "loop" in message, message


def test_symlink_loop_inside_a_frame_folder_is_named(tmp_path, frames):
    write_images(tmp_path / "cam01", frames["cam01"][:2])
    write_images(tmp_path / "cam02", frames["cam02"][:1])
    os.symlink("000001.jpg", tmp_path / "cam02" / "000001.jpg")
    message = one_line_error(tmp_path, CAMERAS)
    assert "000001.jpg" in message and "loop" in message and "cam02" in message, message


def test_footage_folder_that_is_a_symlink_loop_is_named(tmp_path):
    os.symlink("capture", tmp_path / "capture")
    message = one_line_error(tmp_path / "capture", CAMERAS)
    assert "capture" in message and "loop" in message, message


# ---- truncated JPEG frames


@pytest.mark.parametrize("keep", [0.5, 0.98], ids=["half", "end marker cut"])
def test_truncated_jpeg_is_refused_when_the_capture_is_opened(tmp_path, frames, keep):
    for cam in ("cam01", "cam02"):
        paths = write_images(tmp_path / cam, frames[cam][:3])
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[:int(len(data) * keep)])
    message = one_line_error(tmp_path, CAMERAS)
    assert str(paths[1]) in message and "cam02" in message, message


def test_whole_jpeg_frames_open(tmp_path, frames):
    for cam in ("cam01", "cam02"):
        write_images(tmp_path / cam, frames[cam][:3])
    capture = open_capture(tmp_path, CAMERAS)
    assert capture.frames == 3 and capture.sizes == {"cam01": SIZE, "cam02": SIZE}
    (f, images), = capture.read([2])
    assert images["cam02"].shape == (SIZE[1], SIZE[0], 3)


# ---- frame rates


def test_mixed_frame_rates_are_refused_naming_cameras_and_rates(tmp_path, frames):
    videos(tmp_path, frames, rates={"cam02": 60.0, "cam04": 60.0})
    message = one_line_error(tmp_path, CAMERAS)
    for word in ("cam01: 30", "cam02: 60", "cam03: 30", "cam04: 60", "resampl"):
        assert word in message, (word, message)


def test_nearly_equal_frame_rates_are_one_rate(tmp_path, frames):
    videos(tmp_path, frames, rates={"cam03": 29.97})
    capture = open_capture(tmp_path, CAMERAS)
    assert capture.frames == 3 and 29.9 < capture.fps <= 30.0


# ---- the user's choice of cameras


def test_chosen_cameras_alone_limit_the_frames_and_are_checked(tmp_path, frames):
    videos(tmp_path, frames, counts={"cam01": 4, "cam02": 2, "cam03": 4, "cam04": 4})
    (tmp_path / "cam04.mp4").write_text("not a video")  # excluded: never opened
    with pytest.raises(InputError, match="cam04"):
        open_capture(tmp_path, CAMERAS)
    capture = open_capture(tmp_path, CAMERAS, cameras=["cam03", "cam01"])
    assert capture.cameras == ["cam03", "cam01"] and capture.frames == 4 and not capture.notes
    assert capture.frame_range() == [0, 1, 2, 3]
    (f, images), = capture.read([3])
    assert sorted(images) == ["cam01", "cam03"]


def test_excluded_camera_with_another_rate_or_no_calibration_is_left_out(tmp_path, frames):
    videos(tmp_path, frames, rates={"cam02": 60.0})
    write_video(tmp_path / "extra.mp4", frames["cam01"][:1])
    capture = open_capture(tmp_path, CAMERAS, cameras=["cam01", "cam03"])
    assert capture.cameras == ["cam01", "cam03"] and capture.fps == 30.0


def test_chosen_frame_folders(tmp_path, frames):
    write_images(tmp_path / "cam01", frames["cam01"][:3], ".png")
    write_images(tmp_path / "cam02", frames["cam02"][:1], ".png")
    assert open_capture(tmp_path, CAMERAS).frames == 1
    assert open_capture(tmp_path, CAMERAS, cameras=["cam01"]).frames == 3


@pytest.mark.parametrize("cameras,words", [(["cam01", "cam09"], ["cam09", "cam01, cam02, cam03"]),
                                         (["cam04"], ["cam04", "no footage", "cam01, cam02, cam03"]),
                                         (["cam01", "cam01"], ["cam01", "twice"]),
                                         ([], ["no camera"])])
def test_unknown_chosen_camera_is_refused_listing_the_available_ones(tmp_path, frames, cameras, words):
    for cam in CAMERAS[:3]:
        write_video(tmp_path / f"{cam}.mp4", frames[cam][:2])
    message = one_line_error(tmp_path, CAMERAS, cameras=cameras)
    for word in words:
        assert word in message, (word, message)


# ---- the calibration's part: coincident cameras among those used, and its notes


def _real_calibration(tmp_path: Path, same_pose: tuple[str, ...] = ()) -> Path:
    """The example's calibration as cameras.json, the cameras in ``same_pose`` moved onto the first's pose."""
    from dataclasses import replace

    from engine.io.calibration import Calibration, read_calibration, write_calibration_json

    calib = read_calibration(EXAMPLE / "calibration" / "Calib.toml")
    first = calib[same_pose[0]] if same_pose else None
    cams = [replace(c, R_cam_world=first.R_cam_world, t_cam_world=first.t_cam_world) if c.name in same_pose else c
            for c in calib.cameras]
    path = tmp_path / "calib" / "cameras.json"
    path.parent.mkdir()
    write_calibration_json(Calibration(cams, path, "json"), path)
    return path


def test_coincident_cameras_in_use_are_refused_before_the_footage_is_read(tmp_path, frames):
    from engine.io.calibration import read_calibration

    calib = read_calibration(_real_calibration(tmp_path, ("cam01", "cam02")))
    footage = videos(tmp_path / "footage", frames)
    (footage / "cam04.mp4").write_text("not a video")
    message = one_line_error(footage, calib)
    assert "cameras.json" in message and "'cam01' and 'cam02'" in message and "centre" in message, message
    message = one_line_error(footage, calib, cameras=["cam01", "cam02"])
    assert "cam01" in message and "cam02" in message and "centre" in message, message
    assert open_capture(footage, calib, cameras=["cam01", "cam03"]).cameras == ["cam01", "cam03"]
    assert open_capture(footage, calib, cameras=["cam02"]).frames == 3  # one camera alone is fine


def test_all_cameras_at_one_pose_are_refused(tmp_path, frames):
    from engine.io.calibration import read_calibration

    calib = read_calibration(_real_calibration(tmp_path, tuple(CAMERAS)))
    message = one_line_error(videos(tmp_path / "footage", frames), calib)
    assert all(f"'{c}'" in message for c in CAMERAS) and "one centre" in message, message


def test_calibration_notes_lead_the_capture_notes(tmp_path, frames):
    from engine.io.calibration import read_calibration

    folder = _real_calibration(tmp_path).parent
    (folder / "calibration.json").write_text('{"kind": "blender.cameras", "cameras": []}')  # another program's
    calib = read_calibration(folder)
    capture = open_capture(videos(tmp_path / "footage", frames, counts={"cam02": 2}), calib)
    assert calib.notes and capture.notes[:len(calib.notes)] == calib.notes
    assert "calibration.json" in capture.notes[0] and "different frame counts" in capture.notes[-1]
