"""``diffproxy reconstruct`` on bad input, built from the real 4-camera example
(pose2sim_balancing: frames 0-2 of its videos): each refusal names the file or the camera,
comes before any detection (the pipeline is wrapped to see that) and leaves nothing in the
output folder; the cases that go on say so in the notes. Three short real runs (one frame
each) check the outputs and the notes of the cases that reconstruct anyway."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.io.calibration import read_calibration, write_calibration_json
from engine.io.calibration.rotations import matrix_to_quaternion, matrix_to_rodrigues

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [_ROOT / "examples/pose2sim_balancing"] + [  # the bundled copy first
    shared / "examples/pose2sim_balancing" for shared in (_ROOT / "shared", _ROOT.parent / "shared")]
EXAMPLE = next((p for p in _CANDIDATES if (p / "videos").is_dir()), _CANDIDATES[0])
CAMERAS = ("cam01", "cam02", "cam03", "cam04")
OUTPUTS = ("fit.json", "fit.npz", "fit.glb", "report.json", "contact_sheet.jpg")
GREY = "grey"  # a frame with nobody in it


# ---- the footage ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def example_dir() -> Path:
    if not (EXAMPLE / "videos").is_dir():
        pytest.skip(f"the real example is not here: {EXAMPLE}")
    return EXAMPLE


@pytest.fixture(scope="session")
def toml(example_dir) -> Path:
    return example_dir / "calibration" / "Calib.toml"


@pytest.fixture(scope="session")
def footage(example_dir) -> dict[str, list[np.ndarray]]:
    """Frames 0-2 of each camera, BGR as cv2 reads them (cam01/cam02 1080 wide, cam03/cam04 1088)."""
    import cv2

    out = {}
    for cam in CAMERAS:
        cap = cv2.VideoCapture(str(example_dir / "videos" / f"{cam}.mp4"))
        frames = [cap.read()[1] for _ in range(3)]
        cap.release()
        assert all(f is not None for f in frames), f"cannot read {cam}.mp4"
        out[cam] = frames
    return out


def _frame(footage, cam: str, i: int, how=None) -> np.ndarray:
    import cv2

    image = footage[cam][i]
    if how == GREY:
        return np.full_like(image, 128)
    if how is not None:  # (width, height)
        return cv2.resize(image, how, interpolation=cv2.INTER_AREA)
    return image


_PNGS: dict[tuple, bytes] = {}  # (camera, frame, change) -> PNG file contents, encoded once per session


def write_frames(folder: Path, footage, cams=CAMERAS, n: int = 1, change: dict | None = None) -> Path:
    """<folder>/<camera>/000000.png ...: ``n`` frames per camera (an int, or {camera: n});
    ``change`` {camera: GREY or (width, height)} alters every frame of a camera."""
    import cv2

    change = change or {}
    for cam in cams:
        (folder / cam).mkdir(parents=True)
        for i in range(n[cam] if isinstance(n, dict) else n):
            key = (cam, i, change.get(cam))
            if key not in _PNGS:
                ok, data = cv2.imencode(".png", _frame(footage, cam, i, change.get(cam)),
                                        [cv2.IMWRITE_PNG_COMPRESSION, 1])
                assert ok
                _PNGS[key] = data.tobytes()
            (folder / cam / f"{i:06d}.png").write_bytes(_PNGS[key])
    return folder


def write_videos(folder: Path, footage, cams=CAMERAS, n: int = 1) -> Path:
    """<folder>/<camera>.mp4 (mp4v), ``n`` frames each, at the original sizes."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for cam in cams:
        h, w = footage[cam][0].shape[:2]
        writer = cv2.VideoWriter(str(folder / f"{cam}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 60.0, (w, h))
        assert writer.isOpened()
        for i in range(n):
            writer.write(footage[cam][i])
        writer.release()
    return folder


# ---- the pipeline ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def reconstructor():
    from engine.pipeline.reconstructor import Reconstructor

    return Reconstructor.from_pretrained()


class DetectionReached(Exception):
    """The inputs were accepted: detection was about to run."""


class Spy:
    """The real pipeline, recording what reaches detection; with ``stop`` it ends there."""

    def __init__(self, rec, stop: bool = True):
        self.rec, self.stop, self.detected = rec, stop, []

    def __getattr__(self, name):
        return getattr(self.rec, name)

    def detect(self, images, calibration):
        self.detected.append((list(images), calibration))
        if self.stop:
            raise DetectionReached
        return self.rec.detect(images, calibration)


def run(inp: Path, out: Path, rec, calibration: Path, **kw) -> dict:
    from helpers import reconstruct_to

    return reconstruct_to(inp, out, calibration=calibration, reconstructor=rec, **kw)


def assert_nothing_written(out: Path) -> None:
    assert not (out / "fit.json").exists() and not (out / "fit.npz").exists()
    if out.exists():
        assert not list(out.glob(".tmp-*")), "a temporary output folder was left behind"


def refused(spy: Spy, inp: Path, out: Path, calibration: Path, *match: str, **kw) -> str:
    """Run, expecting an InputError before detection whose message holds every ``match``."""
    with pytest.raises(InputError) as e:
        run(inp, out, spy, calibration, **kw)
    message = str(e.value)
    for m in match:
        assert m in message, f"{m!r} not in the error: {message}"
    assert not spy.detected, f"refused only after detection: {message}"
    assert_nothing_written(out)
    if out.is_dir():
        assert not any(out.iterdir()), f"{out} holds {sorted(p.name for p in out.iterdir())}"
    return message


# ---- the footage: missing, unreadable, mismatched ----------------------------------------------

def test_empty_folder_is_refused(tmp_path, reconstructor, toml):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("no footage here")
    refused(Spy(reconstructor), tmp_path / "in", tmp_path / "out", toml, "in: no footage", "cam01, cam02")
    refused(Spy(reconstructor), tmp_path / "nothing", tmp_path / "out", toml, "nothing: not a folder")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("case", ["truncated png", "text named png", "empty png", "truncated png, frame 1"])
def test_unreadable_image_is_refused_naming_it(tmp_path, footage, reconstructor, toml, case):
    inp = write_frames(tmp_path / "in", footage, n=2)
    bad = inp / "cam02" / ("000001.png" if "frame 1" in case else "000000.png")
    if "truncated" in case:
        _truncate(bad)
    else:
        bad.write_text("" if "empty" in case else "not an image\n")
    # every frame is checked up front: a bad frame 1 is refused before frame 0 is detected
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, str(bad), "unreadable image", "camera cam02")


@pytest.mark.parametrize("case", ["text named mp4", "empty mp4", "truncated mp4"])
def test_unreadable_video_is_refused_naming_it(tmp_path, footage, reconstructor, toml, case):
    inp = write_videos(tmp_path / "in", footage)
    bad = inp / "cam03.mp4"
    if case == "text named mp4":
        bad.write_text("this is not a video\n")
    elif case == "empty mp4":
        bad.write_bytes(b"")
    else:
        _truncate(bad)
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, str(bad), "camera cam03")


def test_missing_frame_in_numbered_folder_is_refused(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage, n=3)
    (inp / "cam04" / "000001.png").unlink()  # cam04 would otherwise be silently one frame ahead from frame 1
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, str(inp / "cam04"), "camera cam04", "000000.png",
            "000002.png")


def test_frame_of_another_size_within_a_camera_is_refused(tmp_path, footage, reconstructor, toml):
    import cv2

    inp = write_frames(tmp_path / "in", footage, n=2)
    bad = inp / "cam03" / "000001.png"
    cv2.imwrite(str(bad), _frame(footage, "cam03", 1, (544, 960)))
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, str(bad), "544x960", "1088x1920", "camera cam03")


def test_frame_folders_in_number_order(tmp_path, footage, toml):
    """frame_2.png comes before frame_10.png; hidden files (macOS ._*) are not frames."""
    import cv2

    from engine.pipeline.capture import open_capture

    small = cv2.resize(footage["cam03"][0], (68, 120))
    for cam in ("cam01", "cam03"):
        (tmp_path / cam).mkdir()
        for i in (1, 2, 10):
            cv2.imwrite(str(tmp_path / cam / f"frame_{i}.png"), small)
        (tmp_path / cam / "._frame_3.png").write_bytes(b"\0\0")
    names = read_calibration(toml).names()
    with pytest.raises(InputError, match="from 2 .frame_2.png. to 10 .frame_10.png."):
        open_capture(tmp_path, names)  # 1, 2, 10: numbered frames with a gap
    for cam in ("cam01", "cam03"):
        (tmp_path / cam / "frame_1.png").unlink()
        (tmp_path / cam / "frame_2.png").rename(tmp_path / cam / "frame_5.png")
    capture = open_capture(tmp_path, names)  # 5, 10: every 5th frame
    assert [p.name for p in capture.sources["cam01"]] == ["frame_5.png", "frame_10.png"]
    assert capture.frames == 2 and capture.sizes == {"cam01": (68, 120), "cam03": (68, 120)}
    assert capture.notes == ["camera cam02 is calibrated but has no footage: ignored",
                             "camera cam04 is calibrated but has no footage: ignored"]
    for i in (10, 5):  # cam03 numbered 6, 11: matched by position, with a note
        (tmp_path / "cam03" / f"frame_{i}.png").rename(tmp_path / "cam03" / f"frame_{i + 1}.png")
    assert "start at different values (cam01: 5, cam03: 6)" in open_capture(tmp_path, names).notes[-1]


def test_different_frame_counts(tmp_path, footage, reconstructor, toml):
    """The common range with a note, or refused with strict=True."""
    from engine.pipeline.capture import open_capture

    inp = write_frames(tmp_path / "in", footage, n={"cam01": 3, "cam02": 2, "cam03": 3, "cam04": 3})
    capture = open_capture(inp, read_calibration(toml).names())
    assert capture.frames == 2
    assert any("different frame counts" in n and "cam02: 2" in n and "cam01: 3" in n and "using the first 2" in n
               for n in capture.notes), capture.notes
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, "different frame counts", "cam01: 3", "cam02: 2",
            "--strict", strict=True)
    # without strict the common range is used (its note: see test_one_view_without_person)
    spy = Spy(reconstructor)
    with pytest.raises(DetectionReached):
        run(inp, tmp_path / "out", spy, toml, frames="1")
    with pytest.raises(InputError, match="--frames: 2:3:1 is not a range inside the capture's 2 frame"):
        run(inp, tmp_path / "out", Spy(reconstructor), toml, frames="2")


def test_video_frame_counts_differ(tmp_path, footage, reconstructor, toml):
    inp = write_videos(tmp_path / "in", footage, cams=CAMERAS[:2], n=2)
    write_videos(inp, footage, cams=CAMERAS[2:], n=3)
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, "cam01: 2", "cam03: 3", strict=True)


def test_camera_without_calibration_is_refused_naming_it(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage)
    (inp / "cam01").rename(inp / "cam05")
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, "cam05", "no camera in the calibration", str(inp))


def test_calibrated_camera_without_footage_is_ignored(tmp_path, footage, reconstructor, toml):
    from engine.pipeline.capture import open_capture

    inp = write_frames(tmp_path / "in", footage, cams=("cam01", "cam03"))
    capture = open_capture(inp, read_calibration(toml).names())
    assert capture.cameras == ["cam01", "cam03"] and capture.ignored == ["cam02", "cam04"]
    assert "camera cam02 is calibrated but has no footage: ignored" in capture.notes
    spy = Spy(reconstructor)
    with pytest.raises(DetectionReached):
        run(inp, tmp_path / "out", spy, toml)
    assert spy.detected[0][0] == ["cam01", "cam03"]


# ---- the calibration ------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["NaN in K", "zero focal length", "singular rotation", "infinite translation"])
def test_bad_calibration_value_is_refused_naming_it(tmp_path, footage, reconstructor, toml, case):
    inp = write_frames(tmp_path / "in", footage)
    path = tmp_path / "cameras.json"
    write_calibration_json(read_calibration(toml), path)
    record = json.loads(path.read_text())
    cam = record["cameras"][1]
    field = {"NaN in K": "K", "zero focal length": "K", "singular rotation": "R_cam_world",
             "infinite translation": "t_cam_world"}[case]
    if case == "NaN in K":
        cam["K"][0][2] = float("nan")
    elif case == "zero focal length":
        cam["K"][0][0] = 0.0
    elif case == "singular rotation":
        cam["R_cam_world"] = np.zeros((3, 3)).tolist()
    else:
        cam["t_cam_world"][2] = float("inf")
    path.write_text(json.dumps(record))  # NaN / Infinity as Python's json writes them
    refused(Spy(reconstructor), inp, tmp_path / "out", path, str(path), "cam02", field)


def test_image_size_against_calibration(tmp_path, footage, reconstructor, toml):
    """Rescaled when the aspect agrees within 1% (a note naming the camera and both sizes),
    else refused naming them; both before detection."""
    from engine.pipeline.reconstructor import Reconstructor

    calib = read_calibration(toml)
    half = {"cam03": _frame(footage, "cam03", 0, (544, 960))[..., ::-1]}
    checked, notes = Reconstructor.check_inputs(half, calib)
    assert notes == ["camera cam03: image 544x960, calibrated at 1088x1920: calibration rescaled"]
    np.testing.assert_allclose(checked["cam03"].K[:2, :2], calib["cam03"].K[:2, :2] / 2)
    assert (checked["cam03"].width, checked["cam03"].height) == (544, 960)

    inp = write_frames(tmp_path / "in", footage, change={"cam03": (1000, 1920)})
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, "camera cam03", "1000x1920", "1088x1920")
    with pytest.raises(InputError, match="cam03: expected an RGB image"):
        Reconstructor.check_inputs({"cam03": half["cam03"][..., 0]}, calib)


def write_easymocap(folder: Path, calib) -> Path:
    """intri.yml (names, K_, dist_, W_, H_) + extri.yml (R_ as a Rodrigues vector, T_)."""
    def mat(key, m):
        m = np.atleast_2d(np.asarray(m, np.float64))
        data = ", ".join(repr(float(v)) for v in m.ravel())
        return f"{key}: !!opencv-matrix\n   rows: {m.shape[0]}\n   cols: {m.shape[1]}\n   dt: d\n   data: [ {data} ]\n"

    intri = "%YAML:1.0\n---\nnames:\n" + "".join(f'   - "{c.name}"\n' for c in calib.cameras)
    extri = "%YAML:1.0\n---\n"
    for c in calib.cameras:
        intri += mat(f"K_{c.name}", c.K) + mat(f"dist_{c.name}", np.pad(c.dist, (0, 5 - len(c.dist)))[None])
        intri += f"W_{c.name}: {c.width}\nH_{c.name}: {c.height}\n"
        extri += mat(f"R_{c.name}", matrix_to_rodrigues(c.R_cam_world)[:, None])
        extri += mat(f"T_{c.name}", c.t_cam_world[:, None])
    (folder / "intri.yml").write_text(intri)
    (folder / "extri.yml").write_text(extri)
    return folder


def write_colmap(folder: Path, calib) -> Path:
    """sparse/0/cameras.txt (OPENCV: fx fy cx cy k1 k2 p1 p2, pixel centres at +0.5) + images.txt
    (one image per camera, named <camera>/000000.png)."""
    model = folder / "sparse" / "0"
    model.mkdir(parents=True)
    cams = "# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
    images = "# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n# POINTS2D[] as (X, Y, POINT3D_ID)\n"
    for i, c in enumerate(calib.cameras, start=1):
        assert len(c.dist) == 4, "the OPENCV model holds k1 k2 p1 p2"
        params = [c.K[0, 0], c.K[1, 1], c.K[0, 2] + 0.5, c.K[1, 2] + 0.5, *c.dist]
        cams += f"{i} OPENCV {c.width} {c.height} {' '.join(repr(float(p)) for p in params)}\n"
        pose = [*matrix_to_quaternion(c.R_cam_world), *c.t_cam_world]
        images += f"{i} {' '.join(repr(float(p)) for p in pose)} {i} {c.name}/000000.png\n\n"
    (model / "cameras.txt").write_text(cams)
    (model / "images.txt").write_text(images)
    return folder


def test_each_calibration_format_is_accepted(tmp_path, footage, reconstructor, toml):
    """The bundled TOML, and the same cameras as EasyMocap, COLMAP and JSON: each accepted,
    each reaching detection with the same cameras (rescaled to the 1080-wide videos)."""
    calib = read_calibration(toml)
    assert calib.format == "toml"
    paths = {"toml": toml}
    for name in ("easymocap", "colmap", "json"):
        (tmp_path / name).mkdir()
    paths["easymocap"] = write_easymocap(tmp_path / "easymocap", calib)
    paths["colmap"] = write_colmap(tmp_path / "colmap", calib)
    write_calibration_json(calib, tmp_path / "json" / "cameras.json")
    paths["json"] = tmp_path / "json" / "cameras.json"
    inp = write_frames(tmp_path / "in", footage)
    seen = {}
    for name, path in paths.items():
        assert read_calibration(path).format == name
        spy = Spy(reconstructor)
        with pytest.raises(DetectionReached):
            run(inp, tmp_path / "out", spy, path)
        (cameras, checked), = spy.detected
        assert cameras == list(CAMERAS)
        seen[name] = checked
    for name, checked in seen.items():
        assert [(c.width, c.height) for c in checked.cameras] == [(1080, 1920), (1080, 1920), (1088, 1920),
                                                                  (1088, 1920)], name
        for got, want in zip(checked.cameras, seen["toml"].cameras):
            np.testing.assert_allclose(got.K, want.K, rtol=0, atol=1e-6, err_msg=name)
            np.testing.assert_allclose(got.dist[:4], want.dist[:4], rtol=0, atol=1e-9, err_msg=name)
            np.testing.assert_allclose(got.R_cam_world, want.R_cam_world, rtol=0, atol=1e-9, err_msg=name)
            np.testing.assert_allclose(got.t_cam_world, want.t_cam_world, rtol=0, atol=1e-9, err_msg=name)
    raw = tomllib.loads(toml.read_text())["cam01"]
    np.testing.assert_allclose(seen["toml"]["cam01"].K[0, 0], raw["matrix"][0][0] * 1080 / 1088)


# ---- the options ----------------------------------------------------------------------------

@pytest.mark.parametrize("frames", ["5", "1:1", "-1", "2:", "x:y", "0:4:2:x"])
def test_frames_outside_the_capture_are_refused(tmp_path, footage, reconstructor, toml, frames):
    inp = write_frames(tmp_path / "in", footage, n=2)
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, "--frames", frames=frames)


@pytest.mark.parametrize("cameras,unknown", [("cam01,cam09", "cam09"), ("cam01, cam04", "cam04")])
def test_cameras_naming_an_unknown_camera_are_refused(tmp_path, footage, reconstructor, toml, cameras, unknown):
    inp = write_frames(tmp_path / "in", footage, cams=CAMERAS[:3])
    refused(Spy(reconstructor), inp, tmp_path / "out", toml, "--cameras", unknown, "cam01, cam02, cam03",
            cameras=cameras)


def test_out_that_is_a_file_is_refused(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage)
    (tmp_path / "taken").write_text("a file")
    refused(Spy(reconstructor), inp, tmp_path / "taken", toml, "--out", "not a folder")
    assert (tmp_path / "taken").read_text() == "a file"
    refused(Spy(reconstructor), inp, tmp_path / "taken" / "sub", toml, "--out", str(tmp_path / "taken"), "a file")


def test_cli_prints_the_error_and_exits_2(tmp_path, toml):
    from typer.testing import CliRunner

    from engine.cli.main import app

    (tmp_path / "in").mkdir()
    result = CliRunner().invoke(app, ["reconstruct", str(tmp_path / "in"), "--calibration", str(toml),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "no footage" in " ".join(result.output.split()) and not (tmp_path / "out").exists()


# ---- nobody in the images -------------------------------------------------------------------

def test_no_person_in_any_view_is_refused(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage, cams=("cam01", "cam03"), change={"cam01": GREY, "cam03": GREY})
    spy = Spy(reconstructor, stop=False)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"no person found in any view \(cam01, cam03\)"):
        run(inp, out, spy, toml)
    assert spy.detected
    assert_nothing_written(out)


# ---- three real runs, one frame each --------------------------------------------------------

@pytest.fixture(scope="module")
def all_four(tmp_path_factory, footage, reconstructor, toml):
    """Videos of the four cameras, one frame: the reference run (the reconstructor's inputs
    checked once: ``checked`` is how many times)."""
    from engine.pipeline.reconstructor import Reconstructor

    tmp = tmp_path_factory.mktemp("all_four")
    inp = write_videos(tmp / "in", footage)
    real, checked = Reconstructor.check_inputs, []

    def counted(images, calibration):
        checked.append(list(images))
        return real(images, calibration)

    Reconstructor.check_inputs = staticmethod(counted)
    try:
        summary = run(inp, tmp / "out", reconstructor, toml)
    finally:
        Reconstructor.check_inputs = staticmethod(real)
    return summary, tmp / "out", len(checked)


@pytest.fixture(scope="module")
def one_without_person(tmp_path_factory, footage, reconstructor, toml):
    """Frame folders of cam01-cam03 (cam04 has none), cam02 grey, cam03 one frame longer."""
    tmp = tmp_path_factory.mktemp("one_without_person")
    inp = write_frames(tmp / "in", footage, cams=CAMERAS[:3], n={"cam01": 1, "cam02": 1, "cam03": 2},
                       change={"cam02": GREY})
    return run(inp, tmp / "out", reconstructor, toml), tmp / "out"


@pytest.fixture(scope="module")
def single_view(tmp_path_factory, footage, reconstructor, toml):
    """cam03 shows the person, cam04 is grey, cam01/cam02 have no footage."""
    tmp = tmp_path_factory.mktemp("single_view")
    inp = write_frames(tmp / "in", footage, cams=("cam03", "cam04"), change={"cam04": GREY})
    return run(inp, tmp / "out", reconstructor, toml), tmp / "out"


def assert_outputs(out: Path, cameras) -> dict:
    for name in (*OUTPUTS, *(f"overlay_{c}.jpg" for c in cameras)):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not list(out.glob(".tmp-*"))
    report = json.loads((out / "report.json").read_text())
    fit = json.loads((out / "fit.json").read_text())
    assert [v["name"] for v in fit["views"]] == list(cameras) and report["cameras"] == list(cameras)
    return report


def test_full_run_on_the_four_cameras(all_four):
    summary, out, checked = all_four
    assert checked == 1  # a frame's views and calibration are checked once, not again inside the fit
    report = assert_outputs(out, CAMERAS)
    assert summary["frames"] == 1 and summary["views"] == 4
    assert report["landmark_reprojection_px"] < 25, report["landmark_reprojection_px_per_view"]
    assert report["mask_iou"] > 0.5, report["mask_iou_per_view"]
    # cam01/cam02 are 1080 wide, calibrated at 1088: within 1% of the aspect, rescaled with a note
    for cam in ("cam01", "cam02"):
        assert f"camera {cam}: image 1080x1920, calibrated at 1088x1920: calibration rescaled" in report["notes"]
    assert not any("cam03" in n or "cam04" in n for n in report["notes"]), report["notes"]


def test_one_view_without_person(one_without_person):
    summary, out = one_without_person
    report = assert_outputs(out, CAMERAS[:3])
    assert summary["frames"] == 1  # the common range of 1 and 2 frames
    assert "no person found in cam02: fitting without it" in report["notes"]
    assert not any("fewer than two views" in n for n in report["notes"])
    per_view = report["landmark_reprojection_px_per_view"]
    assert per_view[1] is None  # strict JSON: no NaN
    assert np.isfinite(report["landmark_reprojection_px"]) and report["landmark_reprojection_px"] < 25


def test_capture_notes_reach_the_report(one_without_person):
    _, out = one_without_person
    notes = json.loads((out / "report.json").read_text())["notes"]
    assert "camera cam04 is calibrated but has no footage: ignored" in notes
    assert any("different frame counts" in n and "using the first 1" in n for n in notes), notes


def test_single_view_reconstructs_with_a_note(single_view):
    summary, out = single_view
    report = assert_outputs(out, ("cam03", "cam04"))
    assert "no person found in cam04: fitting without it" in report["notes"]
    assert "fewer than two views show the person: depth and scale come from the body prior" in report["notes"]
    assert np.isfinite(report["landmark_reprojection_px"])
    with np.load(out / "fit.npz") as z:
        assert np.isfinite(z["vertices"]).all()
