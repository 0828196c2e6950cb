"""The output folder of ``diffproxy reconstruct`` against reruns, interruptions and other runs
(issue 23): detections cached on the footage itself, one run's files at a time, a lock, and
the options' refusals; on the real 4-camera example."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import InputError
from test_reconstruct_inputs import (CAMERAS, GREY, EXAMPLE, DetectionReached, Spy, example_dir,  # noqa: F401
                                     footage, reconstructor, refused, run, toml, write_frames)

ROOT = Path(__file__).resolve().parents[2]
PY = str(Path(sys.executable))


def cli(*args, env=None, **kw) -> subprocess.Popen:
    """``diffproxy`` in a process of its own (stdout, stderr piped)."""
    env = {**os.environ, **(env or {})}
    return subprocess.Popen([PY, "-m", "engine.cli.main", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def frames_of(out: Path) -> tuple[list, list]:
    """(fit.json's frames, fit.npz's frames)."""
    record = json.loads((out / "fit.json").read_text())
    with np.load(out / "fit.npz") as z:
        return record["frames"], z["frames"].tolist()


# ---- item 2: old detections never pass as new ------------------------------------------------

def test_a_second_take_in_the_same_out_is_detected_afresh(tmp_path, footage, reconstructor, toml):
    """Take 1 (the person) reconstructs; take 2 in the same folders, nobody in it, must not come
    back as take 1's body from the cached detections."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_frames(inp, footage, cams=("cam01", "cam03"))
    first = run(inp, out, reconstructor, toml)
    assert first["frames"] == 1 and (out / "detections" / "frame_000000.npz").exists()
    for cam in ("cam01", "cam03"):  # the second take: the same names, nobody in the images
        frame = inp / cam / "000000.png"
        cv2.imwrite(str(frame), np.full_like(cv2.imread(str(frame)), 128))
        os.utime(frame, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later modification time
    with pytest.raises(InputError, match="no person found"):
        run(inp, out, reconstructor, toml)


def test_the_cache_key_holds_the_footage_and_the_detector(tmp_path):
    from engine.detect.types import Detection, empty_hands
    from engine.pipeline.capture import Capture
    from engine.pipeline.detection_cache import DetectionCache, footage_identity

    (tmp_path / "cam01").mkdir()
    frame = tmp_path / "cam01" / "000000.png"
    frame.write_bytes(b"one")
    capture = Capture(tmp_path, "frames", {"cam01": [frame]}, 1, 0.0, sizes={"cam01": (4, 4)})
    xy, sc = empty_hands()
    det = Detection(np.zeros((33, 2)), np.ones(33), xy, sc, None, np.array([0, 0, 4, 4.0]))
    cache = DetectionCache(tmp_path / "det", footage_identity(capture), {"detector": "a", "hands": True})
    cache.save(0, ["cam01"], [det])
    assert cache.load(0, ["cam01"]) is not None
    other = DetectionCache(tmp_path / "det", footage_identity(capture), {"detector": "a", "hands": False})
    assert other.load(0, ["cam01"]) is None  # other detector settings
    frame.write_bytes(b"two!")  # other footage under the same name
    assert cache.load(0, ["cam01"]) is None


# ---- items 3, 4 and leftovers: one run's files, a lock --------------------------------------

KILL_AT = """
import os, signal, sys
from pathlib import Path
real, out, n = os.replace, Path(sys.argv[1]).resolve(), [0]
kill_at, how = int(sys.argv[2]), getattr(signal, sys.argv[3])
def replace(src, dst, *a, **k):
    real(src, dst, *a, **k)
    if Path(dst).resolve().parent == out and not Path(dst).name.startswith("."):
        n[0] += 1
        if n[0] == kill_at:
            os.kill(os.getpid(), how)
os.replace = replace
from engine.cli.main import app
sys.argv = ["diffproxy", *sys.argv[4:]]
app()
"""


@pytest.mark.slow
@pytest.mark.parametrize("kill_at,how", [(1, "SIGKILL"), (3, "SIGKILL"), (2, "SIGTERM")])
def test_killed_while_moving_the_outputs_in(tmp_path, footage, reconstructor, toml, kill_at, how):
    """A fit of frame 0 is there; a run of frames 0-1 into the same folder is killed (SIGKILL) or
    cancelled (SIGTERM, the add-on's Esc) right after its kill_at-th output file is moved in.
    Never the new npz beside the old json: no fit.json at all, or one whose frames are the npz's."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_frames(inp, footage, cams=("cam01", "cam03"), n=2)
    run(inp, out, reconstructor, toml, frames="0")
    assert frames_of(out) == ([0], [0])
    script = tmp_path / "kill_at.py"
    script.write_text(KILL_AT)
    p = subprocess.run([PY, str(script), str(out), str(kill_at), how, "reconstruct", str(inp), "--calibration",
                        str(toml), "--out", str(out), "--frames", "0:2"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    if how == "SIGKILL":
        assert p.returncode == -9, p.stderr[-2000:]
        assert not (out / "fit.json").exists(), "a fit.json beside files of another run"
    else:  # the moves finish first, then the signal ends the process: the new fit, whole
        assert p.returncode == 130, p.stderr[-2000:]
        assert frames_of(out) == ([0, 1], [0, 1])
    # the next run takes the folder over (the killed run's lock and staging folder are gone)
    summary = run(inp, out, reconstructor, toml, frames="0:2")
    assert frames_of(out) == ([0, 1], [0, 1])
    assert not list(out.glob(".tmp-*")) and not (out / ".diffproxy-lock.json").exists()
    if how == "SIGKILL":
        assert any("ended without finishing" in n for n in summary["notes"]), summary["notes"]


@pytest.mark.slow
def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, footage, reconstructor, toml):
    """A long run writes into a new --out; a second run into it is refused naming the first; a
    file someone else puts there survives the long run's interruption."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_frames(inp, footage, cams=("cam01", "cam03"), n=1)
    long = cli("reconstruct", EXAMPLE / "videos", "--calibration", toml, "--out", out)
    try:
        deadline = time.time() + 300
        while not (out / "detections").is_dir() and time.time() < deadline and long.poll() is None:
            time.sleep(0.2)
        assert long.poll() is None, long.communicate()[1][-2000:]
        with pytest.raises(InputError, match=f"another run is writing into this folder .pid {long.pid}"):
            run(inp, out, Spy(reconstructor), toml)
        (out / "IMPORTANT_notes.txt").write_text("mine")
        long.send_signal(signal.SIGINT)
        _, err = long.communicate(timeout=120)
    finally:
        if long.poll() is None:
            long.kill()
    assert long.returncode == 130, err[-2000:]
    assert (out / "IMPORTANT_notes.txt").read_text() == "mine"
    assert not (out / "fit.json").exists() and not (out / ".diffproxy-lock.json").exists()
    assert list((out / "detections").glob("frame_*.npz")), "the detections done are kept for the next run"


def test_an_earlier_runs_overlays_are_removed(tmp_path, footage, reconstructor, toml):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_frames(inp, footage, cams=("cam01", "cam03", "cam04"))
    run(inp, out, reconstructor, toml)
    assert (out / "overlay_cam04.jpg").exists()
    with Image(out / "overlay_cam01.jpg") as im:
        assert im.size == (1080, 1920), "overlays at the footage's size"
    (out / ".tmp-reconstruct-999999999").mkdir()  # left by a killed run (no such process)
    (out / "overlay_sketch.jpg").write_bytes(b"a user's file, not an output")
    (out / ".tmp-notes-999999999").mkdir()  # a user's folder that looks alike
    summary = run(inp, out, reconstructor, toml, cameras="cam01,cam03", overlay_scale=0.5)
    assert sorted(p.name for p in out.glob("overlay_*")) == ["overlay_cam01.jpg", "overlay_cam03.jpg",
                                                             "overlay_sketch.jpg"]
    assert not (out / ".tmp-reconstruct-999999999").exists() and (out / ".tmp-notes-999999999").is_dir()
    assert any("left by an earlier run" in n for n in summary["notes"])
    with Image(out / "overlay_cam01.jpg") as im:
        assert im.size == (540, 960)


def Image(path):
    from PIL import Image as PILImage

    return PILImage.open(path)


# ---- sequences: a frame without a person, the frame rate ------------------------------------

@pytest.mark.slow
def test_a_frame_without_anybody_is_skipped_and_interpolated(tmp_path, footage, reconstructor, toml):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_frames(inp, footage, cams=("cam01", "cam03"), n=3)
    for cam in ("cam01", "cam03"):
        cv2.imwrite(str(inp / cam / "000001.png"), np.full_like(footage[cam][0], 128))
    summary = run(inp, out, reconstructor, toml)
    assert summary["frames"] == 3
    assert any("frame(s) 1: skipped" in n for n in summary["notes"]), summary["notes"]
    with np.load(out / "fit.npz") as z:
        v = z["vertices"]
        assert z["frames"].tolist() == [0, 1, 2] and np.isfinite(v).all()
        mid = 0.5 * (v[0] + v[2])
        assert np.median(np.linalg.norm(v[1] - mid, axis=-1)) < 0.02  # between its neighbours
        assert np.isnan(z["residual_px"][1]).all()
    with pytest.raises(InputError, match="frame 1: no person found .* --strict"):
        run(inp, tmp_path / "strict", reconstructor, toml, strict=True)
    assert not (tmp_path / "strict").exists()


def test_frame_rate_of_frame_folders(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage, cams=("cam01", "cam03"))
    summary = run(inp, tmp_path / "a", reconstructor, toml)
    assert summary["fps"] == 30.0 and any("30 frames per second assumed" in n for n in summary["notes"])
    assert json.loads((tmp_path / "a" / "fit.json").read_text())["fps"] == 30.0
    assert run(inp, tmp_path / "b", reconstructor, toml, fps=24.0)["fps"] == 24.0


def test_frames_past_the_end_are_cut_with_a_note(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage, cams=("cam01", "cam03"), n=2)
    spy = Spy(reconstructor)
    with pytest.raises(DetectionReached):
        run(inp, tmp_path / "out", spy, toml, frames="0:300:2")
    refused(Spy(reconstructor), inp, tmp_path / "strict", toml, "--frames", "0:300:2", frames="0:300:2", strict=True)


# ---- item 9: units and up axis assumed, or given ---------------------------------------------

def test_one_camera_says_units_were_assumed_and_takes_them_given(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage, cams=("cam03",))
    summary = run(inp, tmp_path / "a", reconstructor, toml)
    assert summary["world_source"] == "assumed"
    assert any("units and up axis assumed" in n and "--units" in n for n in summary["notes"]), summary["notes"]
    given = run(inp, tmp_path / "b", reconstructor, toml, units="mm", up="y")
    assert (given["unit"], given["world_units_per_metre"], given["up_axis"], given["world_source"]) == \
        ("mm", 1000.0, "+Y", "given")


# ---- item 8: a calibration that cannot be right ---------------------------------------------

@pytest.mark.slow
def test_camera_to_world_given_instead_exits_1_naming_the_cause(tmp_path, footage, toml):
    from engine.io.calibration import Calibration, read_calibration, write_calibration_json

    calib = read_calibration(toml)
    inverted = Calibration([c.__class__(c.name, c.K, c.dist, c.R_cam_world.T, -c.R_cam_world.T @ c.t_cam_world,
                                        c.width, c.height) for c in calib.cameras], calib.source, "json")
    write_calibration_json(inverted, tmp_path / "cameras.json")
    p = cli("reconstruct", EXAMPLE / "videos", "--calibration", tmp_path / "cameras.json", "--out", tmp_path / "out",
            "--frames", "0", "--json")
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 1, stderr[-3000:]
    assert "camera-to-world" in stderr
    assert "reconstruct: 100%" in stderr, "--json keeps the progress bar (on stderr)"
    assert json.loads(stdout.strip().splitlines()[-1])["problems"]


# ---- the options: one line, exit 2, before anything is detected ------------------------------

@pytest.mark.parametrize("args,named", [
    (["--proxies", "model", "--samples", "0"], "--samples"), (["--proxies", "model", "--samples", "-2"], "--samples"),
    (["--proxies", "model", "--steps", "0"], "--steps"), (["--proxies", "model", "--steps", "-1"], "--steps"),
    (["--smooth", "-1"], "--smooth"), (["--smooth", "nan"], "--smooth"), (["--smooth", "inf"], "--smooth"),
    (["--frames", "0:4:2:x"], "--frames"), (["--device", "bogus"], "--device"), (["--device", "cuda"], "--device"),
    (["--fps", "0"], "--fps"), (["--units", "furlongs"], "--units"), (["--up", "sideways"], "--up"),
    (["--overlay-scale", "0"], "--overlay-scale"),
    (["--proxies", "gt"], "--proxies: reconstruct takes none or model, got 'gt' (gt: a rendered scene's exact "
                          "proxies, is for evaluate and fit)"),
    (["--proxies", "models"], "--proxies: reconstruct takes none or model, got 'models'")])
def test_bad_options_exit_2_naming_them(tmp_path, toml, args, named):
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code, err = invoke("reconstruct", EXAMPLE / "videos", "--calibration", toml, "--out", tmp_path / "out", *args)
    assert code == 2, err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and named in lines[-1], err[-2000:]
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["take[red]1", "odd[/y]", "0:100:20"])
def test_user_text_is_printed_as_it_is(tmp_path, toml, name):
    """No rich markup or emoji codes read in paths: a folder named take[red]1 is printed as such,
    and one named odd[/y] does not crash the error message (exit 2, not 3)."""
    missing = tmp_path / name
    code, err = invoke("reconstruct", missing, "--calibration", toml, "--out", tmp_path / "out")
    assert code == 2, err[-2000:]
    assert f"error: {missing}: not a folder" in err, err


def invoke(*args) -> tuple[int, str]:
    """The CLI in this process: (exit code, what it printed on stderr)."""
    from typer.testing import CliRunner

    from engine.cli.main import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


def test_an_out_that_cannot_be_written_is_refused_before_detection(tmp_path, footage, reconstructor, toml):
    inp = write_frames(tmp_path / "in", footage, cams=("cam01",))
    refused(Spy(reconstructor), inp, Path("/proc/diffproxy-out"), toml, "--out", "/proc")


@pytest.mark.slow
def test_ctrl_c_exits_130(tmp_path, toml):
    p = cli("reconstruct", EXAMPLE / "videos", "--calibration", toml, "--out", tmp_path / "out")
    try:
        deadline = time.time() + 300
        while not list((tmp_path / "out").glob("detections/frame_*.npz")) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.7)  # inside a fit or a detection, in torch or MediaPipe
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err[-3000:]
    assert "Traceback" not in err


@pytest.mark.parametrize("case", ["missing", "a file", "empty folder", "config without weights", "config not JSON"])
def test_a_bad_checkpoint_is_one_line(tmp_path, toml, case):
    ckpt = tmp_path / "ckpt"
    if case == "a file":
        ckpt.write_text("weights")
    elif case != "missing":
        ckpt.mkdir()
    if case == "config without weights":
        (ckpt / "config.json").write_text('{"_class_name": "ProxyDiffusionModel"}')
    elif case == "config not JSON":
        (ckpt / "config.json").write_text("{not json")
    code, err = invoke("reconstruct", EXAMPLE / "videos", "--calibration", toml, "--out", tmp_path / "out", "--frames",
                       "0", "--proxies", "model", "--checkpoint", ckpt)
    assert code == 2, err[-2000:]
    assert f"error: --checkpoint: {ckpt}" in err and "Traceback" not in err, err[-2000:]
    assert not (tmp_path / "out").exists()


def test_demo_without_its_openpose_folder_is_refused_before_any_fit(tmp_path):
    example = tmp_path / "example"
    (example / "calibration").mkdir(parents=True)
    (example / "videos").symlink_to(EXAMPLE / "videos")
    (example / "calibration" / "Calib.toml").write_bytes((EXAMPLE / "calibration" / "Calib.toml").read_bytes())
    code, err = invoke("demo", "--example", example, "--out", tmp_path / "demo_out")
    assert code == 2 and "pose2d_openpose_body25b: missing" in err, err[-2000:]
    assert not (tmp_path / "demo_out").exists()
