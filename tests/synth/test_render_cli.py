"""``diffproxy render | validate | preview`` as a user runs them: from another folder, with
relative paths, bad settings and a second render into the same folder. Real Blender on
tiny scenes (1 sample, 48x40 px, 2 views)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app

REPO = Path(__file__).resolve().parents[2]
TINY = """
[cameras]
views = 2
width = 48
height = 40
[render]
samples = 1
denoise = false
[occluders]
count = [0, 1]
"""
# A stand-in for a Blender binary: takes Blender's command line and runs the worker script
# with this Python (which has bpy), from another folder, as a Blender binary does.
FAKE_BLENDER = ('#!/bin/sh\n[ "$1" = "-b" ] && [ "$4" = "-P" ] || exit 3\n'
                'cd / && unset PYTHONPATH\nexec "{python}" "$5"\n')


def diffproxy(cwd, *args, timeout=300):
    """The CLI of this tree, run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def work(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    fake = tmp_path / "blender"
    fake.write_text(FAKE_BLENDER.format(python=sys.executable))
    fake.chmod(0o755)
    return tmp_path


@pytest.mark.blender
@pytest.mark.slow
def test_readme_commands_with_relative_paths_from_another_folder(work):
    """``render --out D`` with D relative (and a relative --config and --blender), then
    validate and preview, all run from the user's folder, not the repository."""
    res = diffproxy(work, "render", "--out", "D", "--scenes", "1", "--config", "tiny.toml", "--blender", "./blender",
                    "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout.strip().splitlines()[-1])["rendered"] == 1
    res = diffproxy(work, "validate", "D", "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout.strip().splitlines()[-1])["ok"]
    res = diffproxy(work, "preview", "D")
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / "D" / "previews" / "scene_000000.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--num-views", "0"], "cameras.views"), (["--resolution", "7"], "cameras.width"),
    (["--body", "nobody"], "body.model"), (["--backend", "slurm"], "--backend"),
    (["--config", "bad.toml"], "occluders.count"), (["--config", "bad_pose.toml"], "pose.family_weights"),
    (["--seed", "-1"], "seed"), (["--blender", "/nonexistent/blender"], "--blender"),
    (["--config", "cfg_folder"], "cfg_folder: cannot read"), (["--config", "latin1.toml"], "not a UTF-8"),
    (["--samples", "0"], "render.samples"), (["--samples", "-5"], "render.samples"),
    (["--width", "0"], "cameras.width"),
    (["--config", "scalar.json"], "field 'cameras' must be a table/object"),
])
def test_bad_settings_are_refused_before_anything_is_written(work, args, message, monkeypatch):
    """A refused setting leaves no dataset.json behind (which would refuse the corrected
    rerun as "another config" in a folder that holds no scene)."""
    (work / "bad.toml").write_text("[occluders]\ncount = [2, 1]\n")
    (work / "bad_pose.toml").write_text("[pose.family_weights]\nstanding = -1.0\n")
    (work / "cfg_folder").mkdir()
    (work / "scalar.json").write_text('{"cameras": 3}')
    (work / "latin1.toml").write_bytes("# Kopfhöhe\n".encode("latin-1"))
    monkeypatch.chdir(work)
    res = CliRunner().invoke(app, ["render", "--out", "D", "--scenes", "1", *args])
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (work / "D").exists()


def test_render_refuses_scenes_of_another_config_when_dataset_json_is_gone(work, monkeypatch):
    from synth.config import load_config
    from synth.dataset import config_hash

    monkeypatch.chdir(work)
    scene = work / "D" / "scene_000000"
    scene.mkdir(parents=True)
    (scene / "scene.json").write_text(json.dumps({"config_hash": config_hash(load_config(work / "tiny.toml"))}))
    res = CliRunner().invoke(app, ["render", "--out", "D", "--scenes", "2", "--config", "tiny.toml", "--seed", "5"])
    assert res.exit_code == 2 and "scene_000000" in res.output and "dataset.json is missing" in res.output, res.output
    assert [p.name for p in (work / "D").iterdir()] == ["scene_000000"]
    # the scenes' own config is accepted: dataset.json is written again, the finished scene kept
    res = CliRunner().invoke(app, ["render", "--out", "D", "--scenes", "1", "--config", "tiny.toml", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout.strip().splitlines()[-1])["skipped"] == 1, res.output
    assert json.loads((work / "D" / "dataset.json").read_text())["config_hash"] == config_hash(
        load_config(work / "tiny.toml"))


def test_render_names_an_out_that_is_a_file_or_read_only_and_a_damaged_dataset_json(work, monkeypatch):
    from helpers import run_read_only

    monkeypatch.chdir(work)
    (work / "afile").write_text("")
    res = CliRunner().invoke(app, ["render", "--out", "afile", "--scenes", "1"])
    assert res.exit_code == 2 and "--out" in res.output and "is a file" in res.output, res.output
    (work / "old").mkdir()
    (work / "old" / "dataset.json").write_text('{"config_hash": ')
    res = CliRunner().invoke(app, ["render", "--out", "old", "--scenes", "1"])
    assert res.exit_code == 2 and "dataset.json: not valid JSON" in res.output, res.output
    res = CliRunner().invoke(app, ["validate", "old"])
    assert res.exit_code == 2 and "dataset.json: not valid JSON" in res.output, res.output
    (work / "ro").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    res = run_read_only([work / "ro"], [sys.executable, "-m", "engine.cli.main", "render", "--out", "ro/D",
                                        "--scenes", "1", "--config", "tiny.toml"], cwd=work, env=env, timeout=300)
    assert res.returncode == 2 and "--out: cannot write into" in res.stderr and "Traceback" not in res.stderr, \
        res.stderr[-3000:]


@pytest.mark.blender
def test_a_second_render_leaves_the_scene_another_render_is_writing_alone(work):
    """The first render holds scene 0's lock and its temporary folder (stand-ins here: this
    process takes the lock as a render does); a second render into the folder skips the scene
    and keeps the folder, instead of deleting it under the first one."""
    import fcntl

    from synth.config import load_config
    from synth.dataset import render_dataset

    root = work / "D"
    tmp = root / ".tmp-scene_000000-999999"
    (tmp / "images").mkdir(parents=True)
    (root / ".locks").mkdir()
    with open(root / ".locks" / "scene_000000.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        summary = render_dataset(root, 1, load_config(work / "tiny.toml"))
        assert summary.get("busy") == 1 and summary["rendered"] == 0
        assert (tmp / "images").is_dir() and not (root / "scene_000000").exists()


def test_render_help_shows_the_defaults():
    res = CliRunner().invoke(app, ["render", "--help"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "(config cameras.width/height; default 256)" in res.output and "default 16" in res.output, res.output


def test_preview_and_validate_say_when_a_folder_holds_no_scene(tmp_path):
    for command in ("preview", "validate"):
        res = CliRunner().invoke(app, [command, str(tmp_path)])
        assert res.exit_code == 2 and "no scene_* folders" in res.output, (command, res.output)


def test_dataset_json_gets_the_mode_of_an_ordinary_file(tmp_path):
    from synth.config import SynthConfig
    from synth.dataset import write_dataset_record

    write_dataset_record(tmp_path, SynthConfig())
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "dataset.json").stat().st_mode & 0o777 == 0o666 & ~umask
