"""Intrinsics from board photos: the bundled capture's checkerboard (Pose2Sim's layout,
int_camXX_img/), a ChArUco board rendered through a known camera, and the board text."""

import cv2
import numpy as np
import pytest

from engine.calibration.board import Board, board_sources, calibrate_intrinsics, charuco_board
from engine.errors import InputError
from tests.calibration.support import CAMERAS, INTRINSICS, reference_focals

needs_photos = pytest.mark.skipif(INTRINSICS is None, reason="the board photos (shared examples) are not here")


@needs_photos
def test_checkerboard_photos_give_the_reference_focal_lengths():
    board = Board.parse("checkerboard:4x7:60")
    sources = board_sources(INTRINSICS, list(CAMERAS))
    assert list(sources) == list(CAMERAS)
    ref = reference_focals()
    found = 0
    for camera, source in sources.items():
        result = calibrate_intrinsics(camera, source, board)
        found += len(result.used) + len(result.outliers)
        assert len(result.not_found) == 1  # OpenCV misses the board in one photo of each camera
        assert (result.width, result.height) == (1088, 1920)
        assert result.rms_px < 0.5, (camera, result.photo_rms_px)
        f = (result.K[0, 0] + result.K[1, 1]) / 2
        assert abs(f / ref[camera] - 1) < 0.01, (camera, f, ref[camera])
    assert found == 24


@needs_photos
def test_a_wrong_board_size_is_an_error_naming_the_camera():
    source = board_sources(INTRINSICS, ["cam01"])["cam01"]
    with pytest.raises(InputError, match=r"camera cam01: the board .* was found in 0 of 7"):
        calibrate_intrinsics("cam01", source, Board.parse("checkerboard:5x8:60"))


def test_charuco_through_a_known_camera(tmp_path):
    board = Board.parse("charuco:7x5:40:30:4X4_50")
    image = charuco_board(board).generateImage((700, 500), marginSize=0)
    metres_per_px = board.square_m * 7 / 700
    K = np.array([[900.0, 0, 319.5], [0, 900.0, 239.5], [0, 0, 1]])
    folder = tmp_path / "boards" / "take1_cam2"
    folder.mkdir(parents=True)
    for i, (rx, ry) in enumerate([(0.3, 0), (-0.3, 0.1), (0, 0.4), (0.2, -0.35), (-0.25, -0.2), (0.1, 0.3)]):
        R = cv2.Rodrigues(np.array([rx, ry, 0.0]))[0]
        H = K @ np.column_stack([R[:, 0], R[:, 1], [-0.14, -0.1, 0.5]]) @ np.diag([metres_per_px, metres_per_px, 1])
        cv2.imwrite(str(folder / f"{i}.png"), cv2.warpPerspective(image, H, (640, 480), borderValue=255))
    cv2.imwrite(str(folder / "blank.png"), np.full((480, 640), 255, np.uint8))
    sources = board_sources(tmp_path / "boards", ["cam1", "cam2"])  # "cam2" is in the name, "cam1" nowhere
    assert list(sources) == ["cam2"]
    result = calibrate_intrinsics("cam2", sources["cam2"], board)
    assert result.not_found == ["blank.png"]
    assert abs(result.K[0, 0] / 900 - 1) < 0.01 and abs(result.K[1, 1] / 900 - 1) < 0.01
    assert result.rms_px < 0.5
    # the same photos as a video (one per camera, frames sampled from it)
    video = tmp_path / "videos" / "cam2.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480), isColor=False)
    for path in sorted(folder.glob("[0-9].png")):
        writer.write(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
    writer.release()
    from_video = calibrate_intrinsics("cam2", board_sources(video.parent, ["cam2"])["cam2"], board)
    assert from_video.used == [f"cam2.avi#{i}" for i in range(6)]
    assert abs(from_video.K[0, 0] / 900 - 1) < 0.01


@pytest.mark.parametrize("text, message", [
    ("checkerboard:4x7", "is not a board"),
    ("checkerboard:4by7:60", "is not COLSxROWS"),
    ("checkerboard:1x7:60", "at least 2"),
    ("checkerboard:4x7:-5", "positive number of millimetres"),
    ("charuco:7x5:40:45:4X4_50", "must be smaller than the square"),
    ("charuco:7x5:40:30:9X9_50", "dictionary '9X9_50'"),
])
def test_bad_board_text_is_refused_quoting_it(text, message):
    with pytest.raises(InputError, match=message):
        Board.parse(text)


def test_board_text_parses():
    board = Board.parse("checkerboard:4x7:60")
    assert (board.cols, board.rows, board.square_m, board.corner_count) == (4, 7, 0.06, 28)
    assert board.object_points()[1].tolist() == pytest.approx([0.06, 0.0, 0.0])
    assert Board.parse("charuco:7x5:40:30:DICT_4X4_50").dictionary == "DICT_4X4_50"


def test_board_folder_naming_errors(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        board_sources(tmp_path / "none", ["cam01"])
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="nothing in .* is named after a camera"):
        board_sources(tmp_path, ["cam01"])
    (tmp_path / "int_cam01_img").mkdir()
    (tmp_path / "cam01_again").mkdir()
    with pytest.raises(InputError, match="camera cam01 has 2 entries"):
        board_sources(tmp_path, ["cam01"])
