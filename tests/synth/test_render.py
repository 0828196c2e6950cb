"""End-to-end rendering on tiny scenes: real Blender (bpy in a worker subprocess), real Anny."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.io.scene import read_scene
from synth.config import load_config
from synth.dataset import Shard, render_dataset
from synth.preview import write_previews
from synth.validate import validate

pytestmark = [pytest.mark.blender, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
TINY = """
[cameras]
views = 3
width = 72
height = 64
[render]
samples = 2
denoise = false
[occluders]
count = [1, 2]
"""


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(TINY)
    return path


def _record(folder):
    record = json.loads((folder / "scene.json").read_text())
    record.pop("timings")
    return record


def test_render_validate_preview_and_shards_reproduce(tmp_path, tiny_config):
    cfg = load_config(tiny_config)
    full = tmp_path / "full"
    summary = render_dataset(full, 2, cfg)
    assert summary["rendered"] == 2 and summary["proxy_pass_s"] > 0
    result = validate(full)["summary"]
    assert result["ok"], result["bad_scenes"]
    assert result["scenes"] == result["complete"] == 2
    assert result["proxy_px_within_1px"] >= 0.999 and result["foreground_px"] > 200
    scene = read_scene(full / "scene_000000")
    assert scene.proxies["seg"].shape == (3, 64, 72) and scene.proxies["uv"].shape == (3, 64, 72, 2)
    assert scene.gt["keypoints_2d"].shape == (3, 33, 2) and set(np.unique(scene.gt["keypoints_visibility"])) <= {0, 1, 2}
    assert len(scene.record["occluders"]) >= 1 and scene.record["versions"]["blender"]
    (png,) = write_previews(full / "scene_000000", tmp_path / "sheet.png")
    from PIL import Image

    assert Image.open(png).size[0] == 3 * 72

    # A proxy shifted by 2 px is caught, and so is a scene with a missing file; the CLI exits 1.
    # Depth and mask move with seg and uv, so that only the reprojection check can see the shift.
    bad = tmp_path / "bad"
    for name in ("scene_000000", "scene_000001"):
        shutil.copytree(full / name, bad / name)
    with np.load(bad / "scene_000000" / "proxies.npz") as data:
        arrays = dict(data)
    for key in ("seg", "uv", "depth", "body_mask"):
        arrays[key] = np.roll(arrays[key], 2, axis=2)
    np.savez_compressed(bad / "scene_000000" / "proxies.npz", **arrays)
    (bad / "scene_000001" / "gt.npz").unlink()
    cli = subprocess.run([sys.executable, "-m", "engine.cli.main", "validate", str(bad), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1, cli.stderr[-2000:]
    s = json.loads(cli.stdout.strip().splitlines()[-1])
    assert s["scenes"] == 2 and s["complete"] == 1 and s["proxy_px_within_1px"] < 0.5
    bad = {b["scene"]: b for b in s["bad_scenes"]}
    assert set(bad) == {"scene_000000", "scene_000001"} and "gt.npz" in bad["scene_000001"]["error"]
    assert [p for p in bad["scene_000000"]["problems"] if "of proxy pixels within 1 px" in p], bad["scene_000000"]

    # The same scenes again, as two shards into another folder: the same records.
    sharded = tmp_path / "sharded"
    for i in range(2):
        s = render_dataset(sharded, 2, cfg, Shard(i, 2))
        assert s["rendered"] == 1 and s["scenes"] == 1
    for name in ("scene_000000", "scene_000001"):
        assert _record(full / name) == _record(sharded / name)
        a, b = read_scene(full / name), read_scene(sharded / name)
        for key in ("seg", "uv", "depth"):
            assert np.array_equal(a.proxies[key], b.proxies[key])
        assert np.array_equal(a.gt["vertices"], b.gt["vertices"])


def test_kill_and_resume(tmp_path, tiny_config):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "engine.cli.main", "render", "--out", str(out), "--scenes", "3",
           "--config", str(tiny_config), "--json"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    # kill while scene 1 is half-written: scene 0 done, scene 1's temporary folder there
    while not ((out / "scene_000000" / "scene.json").exists() and list(out.glob(".tmp-scene_000001-*"))):
        assert time.time() < deadline and proc.poll() is None, "render did not reach scene 1"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the engine process and its Blender worker
    proc.wait()
    assert list(out.glob(".tmp-scene_000001-*")), "scene 1 finished before the kill: nothing was half-written"
    done = sorted(p.name for p in out.glob("scene_*"))
    assert done == ["scene_000000"] and (out / "scene_000000" / "scene.json").is_file()  # no partial scene
    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == len(done) and summary["rendered"] == 3 - len(done)
    assert not list(out.glob(".tmp-*"))
    assert validate(out)["summary"]["complete"] == 3


def test_ray_backend(tmp_path, tiny_config, monkeypatch):
    """A relative output folder: Ray's actors and their Blender workers run in other folders."""
    cfg = load_config(tiny_config, {"cameras": {"views": 2}})
    monkeypatch.chdir(tmp_path)
    summary = render_dataset(Path("ray"), 1, cfg, backend="ray", workers=1)
    assert summary["rendered"] == 1
    assert validate(tmp_path / "ray")["summary"]["ok"]


def test_dataset_refuses_another_config(tmp_path, tiny_config):
    from synth.dataset import write_dataset_record

    write_dataset_record(tmp_path, load_config(tiny_config))
    with pytest.raises(InputError, match="first difference: 'cameras.views'"):
        write_dataset_record(tmp_path, load_config(tiny_config, {"cameras": {"views": 5}}))


def test_worker_runs_as_a_script_the_way_a_blender_binary_starts_it(tmp_path, tiny_config):
    """No Blender binary here: a stand-in takes Blender's command line (``-b --factory-startup
    -noaudio -P worker.py``) and runs the script file with this Python (which has bpy), so the
    file-mode start, its imports and the protocol are those a Blender binary would use."""
    fake = tmp_path / "blender"
    fake.write_text(f'#!/bin/sh\n[ "$1" = "-b" ] && [ "$3" = "-noaudio" ] && [ "$4" = "-P" ] || exit 3\n'
                    f'cd / && unset PYTHONPATH  # as a Blender binary does\nexec "{sys.executable}" "$5"\n')
    fake.chmod(0o755)
    cfg = load_config(tiny_config, {"cameras": {"views": 2}})
    summary = render_dataset(tmp_path / "bin", 1, cfg, blender=str(fake))
    assert summary["rendered"] == 1 and validate(tmp_path / "bin")["summary"]["ok"]
