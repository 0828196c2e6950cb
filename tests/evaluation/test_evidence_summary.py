"""``diffproxy evaluate --proxies none --json``: the summary line carries every scene's row
(``per_scene``) beside the means and medians, and ``--set`` reaches the landmark fit. The
scoring of a scene is replaced here by made-up rows (the real one, the detector and the fit on
a render, is tests/landmarks/test_table.py's), so that this runs in a moment without Blender
or MediaPipe."""

import json

import pytest
from typer.testing import CliRunner

import engine.evaluation.reconstructor as evidence
from engine.cli.main import app
from engine.errors import InputError

ERRORS = {"scene_000000": 40.0, "scene_000001": 610.0, "scene_000002": 50.0}  # MPVPE, mm


def fake_row(folder, rec, num_views):
    name = folder.name
    if name not in ERRORS:
        raise InputError(f"{folder}: no person found")
    e = ERRORS[name]
    return {"scene": name, "views": num_views or 8, "found": 2 if e > 100 else num_views or 8, "mpvpe_mm": e,
            "pa_mpvpe_mm": e / 2, "keypoint_mpjpe_mm": e + 1, "keypoint_pa_mpjpe_mm": e / 2 + 1,
            "residual_px": 3.0, "seconds": 1.0, "seconds_detect": 0.5, "seconds_fit": 0.5, "unit": "m",
            "up_axis": "+Z"}


class FakeReconstructor:
    generator = None
    made = []

    @classmethod
    def from_pretrained(cls, **kwargs):
        cls.made.append(cls())
        return cls.made[-1]


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    for name in (*ERRORS, "scene_000003"):  # the last one: nobody found, a failed scene
        (tmp_path / name).mkdir()
        (tmp_path / name / "scene.json").write_text("{}")
    monkeypatch.setattr(evidence, "score_scene", fake_row)
    return tmp_path


def test_the_summary_carries_each_scenes_errors(dataset):
    s = evidence.evaluate_evidence(dataset, FakeReconstructor(), num_views=4)["summary"]
    assert [r["scene"] for r in s["per_scene"]] == list(ERRORS)  # the failed scene is in failed_scenes only
    assert s["failed_scenes"][0]["scene"] == "scene_000003"
    assert s["per_scene"][1] == {"scene": "scene_000001", "views": 4, "found": 2, "mpvpe_mm": 610.0,
                                 "pa_mpvpe_mm": 305.0, "keypoint_mpjpe_mm": 611.0, "keypoint_pa_mpjpe_mm": 306.0}
    assert s["mpvpe_mm"] == pytest.approx(700 / 3) and s["median_mpvpe_mm"] == 50.0


def test_cli_json_has_per_scene_in_every_run_of_a_sweep(dataset, monkeypatch):
    import engine.pipeline.reconstructor as pipeline

    monkeypatch.setattr(pipeline, "Reconstructor", FakeReconstructor)
    res = CliRunner().invoke(app, ["evaluate", str(dataset), "--proxies", "none", "--num-views-sweep", "4,8",
                                   "--json"])
    assert res.exit_code == 1, res.output  # a failed scene: reported, and the run exits 1 at the end
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert [[r["views"] for r in s["per_scene"]] for s in out["sweep"]] == [[4] * 3, [8] * 3]
    assert out["per_scene"] == out["sweep"][-1]["per_scene"]
    assert [r["found"] for r in out["per_scene"]] == [8, 2, 8] and out["median_keypoint_mpjpe_mm"] == 51.0


def test_cli_set_changes_the_landmark_schedules_options(dataset, monkeypatch):
    import engine.pipeline.reconstructor as pipeline
    from engine.fitting import FitOptions

    monkeypatch.setattr(pipeline, "Reconstructor", FakeReconstructor)
    FakeReconstructor.made.clear()
    res = CliRunner().invoke(app, ["evaluate", str(dataset), "--proxies", "none", "--max-scenes", "1",
                                   "--set", "sigma_pct=12", "--json"])
    assert res.exit_code == 0, res.output
    options = FakeReconstructor.made[-1].options
    assert options.sigma_pct == 12.0 and options.pose_prior == FitOptions.for_landmarks().pose_prior
    bad = CliRunner().invoke(app, ["evaluate", str(dataset), "--proxies", "none", "--set", "nope=1"])
    assert bad.exit_code == 2 and "--set" in bad.output and len(FakeReconstructor.made) == 1  # before loading
