"""``diffproxy validate`` on damaged scenes: each damage is a named bad scene, and the JSON
summary stays strict JSON. Scene folders written by the proxy pass (no Blender)."""

import json
import shutil

import numpy as np
import pytest
from helpers import write_proxy_scene
from typer.testing import CliRunner

from engine.cli.main import app

SIZE, VIEWS = 40, 2


def _edit_npz(path, key, edit):
    with np.load(path) as data:
        arrays = dict(data)
    edit(arrays[key])
    np.savez(path, **arrays)


def _nan_on_the_body(uv, seg):
    ys, xs = np.nonzero(seg[0])
    uv[0, ys[0], xs[0], 0] = np.nan


DAMAGES = {  # scene -> (what is damaged, words the report must name)
    "scene_000001": (lambda f: _edit_npz(f / "gt.npz", "vertices", lambda a: a.__setitem__((5, 1), np.nan)),
                     ("gt.npz", "vertices")),
    "scene_000002": (lambda f: _edit_npz(f / "gt.npz", "joints", lambda a: a.__setitem__((3, 0), np.inf)),
                     ("gt.npz", "joints")),
    "scene_000003": (lambda f: _edit_npz(f / "gt.npz", "keypoints_2d", lambda a: a.__setitem__((0, 0), np.nan)),
                     ("gt.npz", "keypoints_2d")),
    "scene_000004": (lambda f: _edit_npz(f / "proxies.npz", "uv",
                                         lambda a: _nan_on_the_body(a, np.load(f / "proxies.npz")["seg"])),
                     ("proxies.npz", "uv")),
    "scene_000005": (lambda f: (f / "images" / "view_01.png").write_bytes(
        (f / "images" / "view_01.png").read_bytes()[:-40]), ("view_01.png",)),
    "scene_000006": (lambda f: (f / "scene.json").write_text("[1, 2]"), ("scene.json", "expected a JSON object")),
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, anny64, anny_proxy):
    root = tmp_path_factory.mktemp("damaged")
    write_proxy_scene(root / "scene_000000", 0, anny64, anny_proxy, SIZE, VIEWS)
    for name, (damage, _) in DAMAGES.items():
        shutil.copytree(root / "scene_000000", root / name)
        damage(root / name)
    return root


def test_validate_names_each_damaged_scene_in_strict_json(damaged):
    res = CliRunner().invoke(app, ["validate", str(damaged), "--json"])
    assert res.exit_code == 1, res.output
    line = res.stdout.strip().splitlines()[-1]
    summary = json.loads(line, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c} in {line}"))
    bad = {b["scene"]: "; ".join([b["error"], *b["problems"]]) for b in summary["bad_scenes"]}
    assert sorted(bad) == sorted(DAMAGES), bad
    for name, (_, words) in DAMAGES.items():
        assert all(w in bad[name] for w in words), (name, bad[name])
    assert summary["scenes"] == 7


def test_validate_compares_each_scenes_config_hash(damaged, tmp_path):
    from synth.validate import validate

    for name, h in (("scene_000000", "a"), ("scene_000001", "a"), ("scene_000002", "b")):
        shutil.copytree(damaged / "scene_000000", tmp_path / name)
        record = json.loads((tmp_path / name / "scene.json").read_text())
        (tmp_path / name / "scene.json").write_text(json.dumps({**record, "config_hash": h}))
    bad = validate(tmp_path)["summary"]["bad_scenes"]  # no dataset.json: most scenes say which is right
    assert [b["scene"] for b in bad] == ["scene_000002"] and "config_hash b" in bad[0]["problems"][0]
    (tmp_path / "dataset.json").write_text(json.dumps({"config_hash": "b", "config": {}}))
    bad = validate(tmp_path)["summary"]["bad_scenes"]
    assert [b["scene"] for b in bad] == ["scene_000000", "scene_000001"]
    assert "dataset.json's b" in bad[0]["problems"][0]
