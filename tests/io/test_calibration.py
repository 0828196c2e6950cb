"""Camera calibrations in every supported format read into the same cameras (numpy only)."""

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.io.calibration import CameraCalibration, read_calibration, write_calibration_json
from engine.io.calibration.colmap import view_names
from engine.io.calibration.rotations import (matrix_to_quaternion, matrix_to_rodrigues, quaternion_to_matrix,
                                             rodrigues_to_matrix)

REAL_CALIB = "examples/pose2sim_balancing/calibration/Calib.toml"
POINTS = np.array([[0.0, 0.0, 1.0], [0.3, -0.2, 1.6], [-0.4, 0.5, 0.2], [0.7, 0.6, 1.9], [-0.5, -0.7, 0.9]])


def look_at(center, target=(0.0, 0.0, 1.0)):
    """World-to-camera (R, t) of a camera at ``center`` looking at ``target``, world Z up."""
    c = np.asarray(center, dtype=np.float64)
    f = np.asarray(target) - c
    f /= np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    R = np.stack([r, np.cross(f, r), f])
    return R, -R @ c


def known_cameras() -> list[CameraCalibration]:
    specs = [("cam01", (4.0, 0.0, 1.5), (1500.0, 1510.0, 959.5, 539.5), (-0.12, 0.08, 0.001, -0.0015), (1920, 1080)),
             ("cam02", (-2.0, 3.5, 1.2), (1400.0, 1400.0, 955.25, 541.75), (0.05, -0.02, -0.0007, 0.0004), (1920, 1080)),
             ("cam03", (-1.0, -3.8, 2.0), (1020.5, 1018.0, 641.0, 350.0), (-0.2, 0.15, 0.0, 0.002), (1280, 720))]
    cameras = []
    for name, center, (fx, fy, cx, cy), dist, (w, h) in specs:
        R, t = look_at(center)
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        cameras.append(CameraCalibration(name, K, np.array(dist), R, t, w, h))
    return cameras


def fmt(values) -> str:
    return ", ".join(repr(float(v)) for v in np.ravel(values))


# ---- fixture writers, each in its format's documented layout; each returns the path to read

def write_toml(folder: Path, cameras=None) -> Path:
    """Pose2Sim / anipose layout; the last camera has no ``name`` (its table key names it)."""
    cameras = cameras or known_cameras()
    text = ""
    for i, c in enumerate(cameras):
        last = i == len(cameras) - 1
        text += f"[{c.name if last else f'cam_{i + 1:02d}'}]\n" + ("" if last else f'name = "{c.name}"\n')
        text += f"size = [ {fmt([c.width, c.height])},]\n"
        text += "matrix = [ " + " ".join(f"[ {fmt(row)},]," for row in c.K) + "]\n"
        text += f"distortions = [ {fmt(c.dist)},]\n"
        text += f"rotation = [ {fmt(matrix_to_rodrigues(c.R_cam_world))},]\n"
        text += f"translation = [ {fmt(c.t_cam_world)},]\nfisheye = false\n\n"
    path = folder / "calibration.toml"
    path.write_text(text + "[metadata]\nadjusted = false\nerror = 0.0\n")
    return folder


def _cv_matrix(key: str, m: np.ndarray) -> str:
    values = [repr(float(v)) for v in m.ravel()]
    data = ",\n       ".join(", ".join(values[i:i + 4]) for i in range(0, len(values), 4))  # wraps as OpenCV does
    return f"{key}: !!opencv-matrix\n   rows: {m.shape[0]}\n   cols: {m.shape[1]}\n   dt: d\n   data: [ {data} ]\n"


def write_easymocap(folder: Path, cameras=None, sizes: bool = True) -> Path:
    """intri.yml: names, K_, dist_ (D_ for the second camera), W_/H_; extri.yml (CRLF):
    R_ (Rodrigues) + Rot_ + T_, only Rot_ for the second camera, R_ as 3x3 for the third."""
    cameras = cameras or known_cameras()
    intri = "%YAML:1.0\n---\nnames:\n" + "".join(f'   - "{c.name}"\n' for c in cameras)
    extri = "%YAML:1.0\n---\n"
    for i, c in enumerate(cameras):
        dist = np.zeros((1, 5))
        dist[0, :len(c.dist)] = c.dist
        intri += _cv_matrix(f"K_{c.name}", c.K) + _cv_matrix(f"{'D' if i == 1 else 'dist'}_{c.name}", dist)
        intri += f"W_{c.name}: {c.width}\nH_{c.name}: {c.height}\n" if sizes else ""
        if i == 0:
            extri += _cv_matrix(f"R_{c.name}", matrix_to_rodrigues(c.R_cam_world)[:, None])
        extri += _cv_matrix(f"{'R' if i == 2 else 'Rot'}_{c.name}", c.R_cam_world)
        extri += _cv_matrix(f"T_{c.name}", c.t_cam_world[:, None])
    (folder / "intri.yml").write_text(intri)
    (folder / "extri.yml").write_bytes(extri.replace("\n", "\r\n").encode())
    return folder


def write_colmap(folder: Path, cameras=None) -> Path:
    """sparse/0/cameras.txt (OPENCV model, COLMAP's pixel-centre convention) + images.txt with
    one image per camera in a folder named after it; the second image has no 2D points."""
    cameras = cameras or known_cameras()
    model = folder / "sparse" / "0"
    model.mkdir(parents=True)
    cams = "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
    images = ("# Image list with two lines of data per image:\n#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"
              "#   POINTS2D[] as (X, Y, POINT3D_ID)\n# Number of images: 3, mean observations per image: 1\n")
    for i, c in enumerate(cameras, start=1):
        K = c.K
        params = [K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, *c.dist]
        cams += f"{i} OPENCV {c.width} {c.height} {' '.join(repr(float(p)) for p in params)}\n"
        pose = [*matrix_to_quaternion(c.R_cam_world), *c.t_cam_world]
        images += f"{i} {' '.join(repr(float(p)) for p in pose)} {i} {c.name}/frame_000.png\n"
        images += "\n" if i == 2 else "100.5 200.25 -1 311.0 42.0 7\n"
    (model / "cameras.txt").write_text(cams)
    (model / "images.txt").write_text(images)
    return folder


def write_json(folder: Path, cameras=None) -> Path:
    cameras = cameras or known_cameras()
    record = {"schema_version": 1, "kind": "diffproxy.cameras", "cameras": [
        {"name": c.name, "K": c.K.tolist(), "dist": c.dist.tolist(), "R_cam_world": c.R_cam_world.tolist(),
         "t_cam_world": c.t_cam_world.tolist(), "width": c.width, "height": c.height} for c in cameras]}
    path = folder / "cameras.json"
    path.write_text(json.dumps(record, indent=1))
    return path


WRITERS = {"toml": write_toml, "easymocap": write_easymocap, "colmap": write_colmap, "json": write_json}


def assert_same_cameras(got, want):
    assert [c.name for c in got] == [c.name for c in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.K, w.K, rtol=0, atol=1e-9)
        pad = lambda d: np.pad(d, (0, 8 - len(d)))  # noqa: E731
        np.testing.assert_allclose(pad(g.dist), pad(w.dist), rtol=0, atol=1e-9)
        np.testing.assert_allclose(g.R_cam_world, w.R_cam_world, rtol=0, atol=1e-9)
        np.testing.assert_allclose(g.t_cam_world, w.t_cam_world, rtol=0, atol=1e-9)
        assert (g.width, g.height) == (w.width, w.height)


def real_calib() -> Path:
    root = Path(__file__).resolve().parents[2]
    for shared in (root, root / "shared", root.parent / "shared"):  # the bundled copy first
        if (shared / REAL_CALIB).is_file():
            return shared / REAL_CALIB
    pytest.skip("the shared examples folder (pose2sim_balancing) is not in this checkout")


def test_real_pose2sim_calibration():
    path = real_calib()
    calib = read_calibration(path.parent)  # the folder: Calib.qca.txt beside it is not a calibration we read
    assert calib.format == "toml" and calib.source == path
    assert calib.names() == ["cam01", "cam02", "cam03", "cam04"]
    assert all((c.width, c.height) == (1088, 1920) for c in calib.cameras)
    cam = calib["cam01"]
    assert cam.K[0, 0] == 1681.244873046875 and cam.K[1, 2] == 948.137390140625
    np.testing.assert_allclose(cam.dist, [-0.046183, 0.139983, 0.000608, 0.00069])
    np.testing.assert_allclose(matrix_to_rodrigues(cam.R_cam_world), [1.68827548, 1.04832205, -0.41955852], atol=1e-8)
    np.testing.assert_allclose(cam.t_cam_world, [0.32110489, 0.95633206, 2.89071305], atol=1e-8)
    # the capture volume (the lab origin) is in front of every camera and inside its image
    for c in calib.cameras:
        assert (c.R_cam_world @ np.zeros(3) + c.t_cam_world)[2] > 0
        u, v = c.project(np.zeros((1, 3)))[0]
        assert 0 <= u < c.width and 0 <= v < c.height
    # every pixel, corners included, undistorts; the ray through the ideal pixel projects back onto it
    grid = np.stack(np.meshgrid(np.linspace(0, 1087, 9), np.linspace(0, 1919, 13)), axis=-1).reshape(-1, 2)
    for c in calib.cameras:
        ideal = c.undistort_points(grid)
        rays_cam = np.linalg.solve(c.K, np.concatenate([ideal, np.ones((len(grid), 1))], axis=1).T).T
        np.testing.assert_allclose(c.project((rays_cam - c.t_cam_world) @ c.R_cam_world), grid, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fmt_name", WRITERS)
def test_each_format_reads_the_known_cameras(tmp_path, fmt_name):
    calib = read_calibration(WRITERS[fmt_name](tmp_path))
    assert calib.format == fmt_name
    assert_same_cameras(calib.cameras, known_cameras())


def test_all_formats_project_alike(tmp_path):
    pixels = {}
    for name, writer in WRITERS.items():
        (tmp_path / name).mkdir()
        calib = read_calibration(writer(tmp_path / name))
        pixels[name] = np.stack([c.project(POINTS) for c in calib.cameras])
    assert np.isfinite(pixels["json"]).all()
    for name in WRITERS:
        np.testing.assert_allclose(pixels[name], pixels["json"], rtol=0, atol=1e-6)


def test_write_then_read_json(tmp_path):
    original = read_calibration(write_toml(tmp_path))
    out = tmp_path / "out" / "cams.json"
    out.parent.mkdir()
    write_calibration_json(original, out)
    write_calibration_json(original, out)  # replaces the file
    assert [p.name for p in out.parent.iterdir()] == ["cams.json"]  # no temporary left behind
    again = read_calibration(out)
    assert again.format == "json"
    assert_same_cameras(again.cameras, original.cameras)


def test_scene_json_cameras_are_named_like_the_images(tmp_path):
    cams = known_cameras()
    record = {"schema_version": 1, "generator": "synth", "views": [{"image": f"images/view_{i:02d}.png"} for i in range(3)],
              "cameras": [{"K": c.K.tolist(), "R_cam_world": c.R_cam_world.tolist(), "t_cam_world": c.t_cam_world.tolist(),
                           "width": c.width, "height": c.height, "blender": {}} for c in cams]}
    (tmp_path / "scene.json").write_text(json.dumps(record))
    calib = read_calibration(tmp_path / "scene.json")
    assert calib.names() == ["view_00", "view_01", "view_02"]
    np.testing.assert_array_equal(calib["view_01"].dist, np.zeros(5))
    np.testing.assert_allclose(calib["view_02"].K, cams[2].K, rtol=0, atol=1e-12)


def test_easymocap_without_size_is_unknown_size(tmp_path):
    calib = read_calibration(write_easymocap(tmp_path, sizes=False) / "extri.yml")
    assert all((c.width, c.height) == (0, 0) for c in calib.cameras)
    with pytest.raises(InputError, match="cam01.*image size unknown"):
        calib["cam01"].scaled(960, 540)


def test_colmap_camera_names():
    assert view_names(["cam01/frame_000.png", "cam02/frame_000.png"]) == ["cam01", "cam02"]
    assert view_names(["images/cam01.jpg", "images/cam02.jpg"]) == ["cam01", "cam02"]
    assert view_names(["a.png", "b.png"]) == ["a", "b"]
    assert view_names(["cam01/f0.png", "cam01/f1.png", "cam02/f0.png"]) == ["cam01/f0", "cam01/f1", "cam02/f0"]


@pytest.mark.parametrize("dist", [[-0.12, 0.08, 0.001, -0.0015], [-0.3, 0.12, 0.002, -0.001, -0.02],
                                  [0.4, -0.1, 0.001, 0.002, 0.01, 0.5, -0.05, 0.02]])
def test_projection_matches_opencv_and_undistort_inverts_it(dist):
    cv2 = pytest.importorskip("cv2")

    cam = known_cameras()[0]
    cam.dist = np.array(dist)
    cam.K[0, 1] = 0.0  # cv2.projectPoints has no skew
    rng = np.random.default_rng(0)
    points = np.concatenate([POINTS, rng.uniform([-1, -1, 0], [1, 1, 2], (50, 3))])
    rvec = matrix_to_rodrigues(cam.R_cam_world)
    np.testing.assert_allclose(cv2.Rodrigues(rvec)[0], cam.R_cam_world, atol=1e-12)
    np.testing.assert_allclose(cv2.Rodrigues(cam.R_cam_world)[0].ravel(), rvec, atol=1e-12)
    want = cv2.projectPoints(points, rvec, cam.t_cam_world, cam.K, cam.dist)[0][:, 0]
    xy = cam.project(points)
    np.testing.assert_allclose(xy, want, rtol=0, atol=1e-6)
    ideal = cam.project(points, distort=False)
    xy[3] = np.nan
    back = cam.undistort_points(xy)
    assert np.isnan(back[3]).all()
    np.testing.assert_allclose(np.delete(back, 3, axis=0), np.delete(ideal, 3, axis=0), rtol=0, atol=1e-6)


def test_undistort_gives_nan_where_the_model_folds_over():
    cam = known_cameras()[0]
    cam.dist = np.array([-0.5, 0.0, 0.0, 0.0])  # r (1 - 0.5 r^2) peaks at r = 0.82: nothing maps beyond 0.54
    fx, cx, cy = cam.K[0, 0], cam.K[0, 2], cam.K[1, 2]
    xy = np.array([[cx + 0.5 * fx, cy], [cx + 2.0 * fx, cy], [np.nan, np.nan], [cx, cy]])
    out = cam.undistort_points(xy)
    assert np.isfinite(out[[0, 3]]).all() and np.isnan(out[[1, 2]]).all()
    np.testing.assert_allclose(out[3], [cx, cy])


def test_opencv_yaml_flow_lists_and_scalars(tmp_path):
    (tmp_path / "intri.yml").write_text('%YAML:1.0\n---\nnames: [ "01", "02" ]\nK_01: !!opencv-matrix\n'
                                        '   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1000., 0., 500., 0., 1000.,\n'
                                        '       400., 0., 0., 1. ]\nH_01: 800\nW_01: 1000\n')
    (tmp_path / "extri.yml").write_text("%YAML:1.0\n---\nR_01: !!opencv-matrix\n   rows: 3\n   cols: 1\n   dt: d\n"
                                        "   data: [ 0., 0., 0. ]\nT_01: !!opencv-matrix\n   rows: 3\n   cols: 1\n"
                                        "   dt: d\n   data: [ 0., 0., 2. ]\n")
    with pytest.raises(InputError, match=r"intri\.yml: camera '02', field 'K_02': missing"):
        read_calibration(tmp_path)
    text = (tmp_path / "intri.yml").read_text().replace('"02" ]', "]")
    (tmp_path / "intri.yml").write_text(text)
    cam = read_calibration(tmp_path)["01"]
    assert (cam.width, cam.height) == (1000, 800) and cam.K[1, 2] == 400.0
    np.testing.assert_array_equal(cam.dist, np.zeros(5))
    np.testing.assert_array_equal(cam.R_cam_world, np.eye(3))


def test_scaled_camera_projects_to_scaled_pixel_centres():
    for cam in known_cameras():
        cam.K[0, 1] = 2.5  # a skew scales with x
        half = cam.scaled(cam.width // 2, cam.height // 3)
        sx, sy = (cam.width // 2) / cam.width, (cam.height // 3) / cam.height
        want = (cam.project(POINTS) + 0.5) * [sx, sy] - 0.5
        np.testing.assert_allclose(half.project(POINTS), want, rtol=0, atol=1e-9)
        assert (half.width, half.height) == (cam.width // 2, cam.height // 3)


def test_rotation_conversions():
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    for theta in (0.0, 1e-9, 0.3, 2.0, np.pi - 1e-5, np.pi):
        R = rodrigues_to_matrix(axis * theta)
        c, s = np.cos(theta), np.sin(theta)
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        np.testing.assert_allclose(R, c * np.eye(3) + s * K + (1 - c) * np.outer(axis, axis), atol=1e-12)
        np.testing.assert_allclose(rodrigues_to_matrix(matrix_to_rodrigues(R)), R, atol=1e-10)
        np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(R)), R, atol=1e-10)
    np.testing.assert_allclose(quaternion_to_matrix([np.cos(0.4), 0, 0, np.sin(0.4)])[:2, :2],
                               [[np.cos(0.8), -np.sin(0.8)], [np.sin(0.8), np.cos(0.8)]], atol=1e-12)


def test_calibration_lookup_and_subset(tmp_path):
    calib = read_calibration(write_json(tmp_path))
    assert calib.subset(["cam03", "cam01"]).names() == ["cam03", "cam01"]
    with pytest.raises(InputError, match=r"cameras\.json.*'cam09'.*cam01, cam02, cam03"):
        calib["cam09"]
    cam = calib["cam02"]
    np.testing.assert_allclose(cam.center_world, [-2.0, 3.5, 1.2], atol=1e-12)
    P = cam.projection()
    h = P @ np.append(POINTS[1], 1.0)
    np.testing.assert_allclose(h[:2] / h[2], cam.project(POINTS[1:2], distort=False)[0], atol=1e-9)


# ---- folders

def test_folder_with_two_calibrations_that_disagree_is_refused(tmp_path):
    write_toml(tmp_path)
    cams = known_cameras()
    cams[0].t_cam_world = cams[0].t_cam_world + 0.01
    write_json(tmp_path, cams)
    with pytest.raises(InputError, match=r"disagree.*calibration\.toml.*cameras\.json.*'cam01'.*translation"):
        read_calibration(tmp_path)


def test_folder_without_calibration_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(InputError, match="no camera calibration found"):
        read_calibration(tmp_path)
    (tmp_path / "cameras.bin").write_bytes(b"\0")
    with pytest.raises(InputError, match="binary COLMAP.*model_converter"):
        read_calibration(tmp_path)


# ---- errors: each names the file, the camera and the field

def edit(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode()  # keeps CRLF line ends
    assert old in text, old
    path.write_bytes(text.replace(old, new, 1).encode())


def write_file(name: str, text: str, also: tuple[str, str] | None = None):
    def make(tmp):
        for n, t in [(name, text)] + ([also] if also else []):
            (tmp / n).write_text(t)
        return tmp / name
    return make


def toml_case(old, new):
    def make(tmp):
        path = write_toml(tmp) / "calibration.toml"
        edit(path, old, new)
        return path
    return make


def json_case(camera: int, field: str, value):
    def make(tmp):
        path = write_json(tmp)
        record = json.loads(path.read_text())
        record["cameras"][camera][field] = value
        path.write_text(json.dumps(record))
        return path
    return make


def yml_case(file: str, old: str, new: str):
    def make(tmp):
        write_easymocap(tmp)
        edit(tmp / file, old, new)
        return tmp / file
    return make


def yml_value_case(file: str, key: str, value: str):
    """Replace the first value of the matrix ``key``."""
    def make(tmp):
        write_easymocap(tmp)
        text = (tmp / file).read_bytes().decode()
        start = text.index("data: [ ", text.index(f"{key}: !!opencv-matrix")) + len("data: [ ")
        end = text.index(",", start)
        (tmp / file).write_bytes((text[:start] + value + text[end:]).encode())
        return tmp / file
    return make


def colmap_case(file: str, old: str, new: str):
    def make(tmp):
        write_colmap(tmp)
        edit(tmp / "sparse/0" / file, old, new)
        return tmp
    return make


ROT = np.diag([1.0, -1.0, -1.0])
ERRORS = {
    "non-finite toml": (toml_case("matrix = [ [ 1500.0", "matrix = [ [ nan"), ["calibration.toml", "cam01", "matrix", "non-finite"]),
    "non-finite yaml": (yml_value_case("extri.yml", "T_cam02", ".Nan"), ["extri.yml", "cam02", "T_cam02", "non-finite"]),
    "non-finite json": (json_case(1, "t_cam_world", [0.0, "Infinity", 1.0]), ["cameras.json", "cam02", "t_cam_world", "non-finite"]),
    "K lower triangle": (json_case(0, "K", [[1500, 0, 959.5], [3, 1510, 539.5], [0, 0, 1]]), ["cameras.json", "cam01", "'K'"]),
    "K negative focal": (toml_case("[ 0.0, 1510.0,", "[ 0.0, -1510.0,"), ["calibration.toml", "cam01", "matrix", "fx, fy > 0"]),
    "K singular": (json_case(2, "K", [[1020.5, 0, 641], [0, 1018, 350], [0, 0, 0]]), ["cameras.json", "cam03", "'K'"]),
    "R not orthonormal": (json_case(0, "R_cam_world", (ROT * 1.1).tolist()), ["cameras.json", "cam01", "R_cam_world", "not a rotation"]),
    "R reflection": (json_case(1, "R_cam_world", (-ROT).tolist()), ["cameras.json", "cam02", "R_cam_world", "det"]),
    "R not orthonormal yaml": (yml_value_case("extri.yml", "Rot_cam02", "7.0"), ["extri.yml", "cam02", "Rot_cam02", "not a rotation"]),
    "t size": (toml_case("translation = [ ", "translation = [ 1.0, "), ["calibration.toml", "cam01", "translation", "shape"]),
    "dist size": (json_case(2, "dist", [0.1, 0.2, 0.3]), ["cameras.json", "cam03", "dist", "shape"]),
    "yaml matrix size": (yml_case("intri.yml", "   rows: 3\n   cols: 3", "   rows: 2\n   cols: 3"), ["intri.yml", "K_cam01", "2x3"]),
    "size not whole": (json_case(0, "width", 1920.5), ["cameras.json", "cam01", "width, height"]),
    "duplicate names": (toml_case('name = "cam02"', 'name = "cam01"'), ["calibration.toml", "cam01", "name", "unique"]),
    "duplicate json": (json_case(2, "name", "cam02"), ["cameras.json", "cam02", "name", "unique"]),
    "no camera toml": (write_file("calib.toml", "[metadata]\nerror = 0.0\n"), ["calib.toml", "no camera"]),
    "no camera json": (write_file("cameras.json", json.dumps({"schema_version": 1, "cameras": []})),
                       ["cameras.json", "no camera"]),
    "fisheye": (toml_case("fisheye = false", "fisheye = true"), ["calibration.toml", "cam01", "fisheye", "not supported"]),
    "missing field": (yml_case("extri.yml", "T_cam03", "X_cam03"), ["extri.yml", "cam03", "T_cam03", "missing"]),
    "bad toml": (toml_case("fisheye = false", "fisheye = "), ["calibration.toml", "not valid TOML"]),
    "bad json": (write_file("cameras.json", '{"cameras": ['), ["cameras.json", "not valid JSON"]),
    "bad number yaml": (yml_value_case("intri.yml", "K_cam01", "1.5.0"), ["intri.yml", "K_cam01", "not a number"]),
    "bad yaml": (yml_case("intri.yml", "   data: [ ", "   data: ( "), ["intri.yml", "line 12", "not valid OpenCV YAML"]),
    "unclosed yaml": (write_file("intri.yml", "%YAML:1.0\nK_a: !!opencv-matrix\n   data: [ 1, 2\n", ("extri.yml", "%YAML:1.0\n")),
                      ["intri.yml", "line 3", "never closed"]),
    "colmap model": (colmap_case("cameras.txt", "2 OPENCV", "2 OPENCV_FISHEYE"),
                     ["cameras.txt", "CAMERA_ID 2", "MODEL", "OPENCV_FISHEYE", "PINHOLE, SIMPLE_RADIAL"]),
    "colmap params": (colmap_case("cameras.txt", "1 OPENCV 1920 1080 1500.0", "1 OPENCV 1920 1080"),
                      ["cameras.txt", "CAMERA_ID 1", "PARAMS", "shape"]),
    "colmap camera id": (colmap_case("images.txt", " 3 cam03/frame_000.png", " 9 cam03/frame_000.png"),
                         ["images.txt", "cam03", "CAMERA_ID", "9"]),
    "colmap size": (colmap_case("cameras.txt", "1 OPENCV 1920 1080", "1 OPENCV 19x0 1080"),
                    ["cameras.txt", "CAMERA_ID 1", "WIDTH, HEIGHT", "expected numbers"]),
    "colmap line": (colmap_case("images.txt", " 1 cam01/frame_000.png", ""), ["images.txt", "line 5", "IMAGE_ID"]),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_name_the_file_camera_and_field(tmp_path, case):
    make, words = ERRORS[case]
    with pytest.raises(InputError) as info:
        read_calibration(make(tmp_path))
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
