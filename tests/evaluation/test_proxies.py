"""The oracle evaluation and the fit/evaluate commands, on tiny scene folders written here
(exact proxies by the synth proxy pass, blank images; no Blender). Every test runs the real
fit; the plumbing tests cap its iterations to stay fast."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from helpers import write_proxy_scene
from PIL import Image
from typer.testing import CliRunner

import engine.evaluation.proxies as ev
from engine.cli.main import app
from engine.errors import InputError
from engine.evaluation.proxies import EvalConfig, evaluate
from engine.fitting.types import FitOptions
from engine.io.fit_result import read_fit

SIZE, VIEWS = 48, 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, anny32, anny_proxy):
    root = tmp_path_factory.mktemp("dataset")
    truth = {}
    for i in range(2):
        name = f"scene_{i:06d}"
        truth[name] = write_proxy_scene(root / name, i, anny32, anny_proxy, SIZE, VIEWS)
    return root, truth


@pytest.fixture(scope="module")
def bodies(anny32, anny_proxy):
    cache = ev.BodyCache()
    cache.cache["anny"] = (anny32, anny_proxy)
    return cache


@pytest.fixture
def recorded_fit(monkeypatch, dataset, bodies):
    """The real fit, its iteration counts capped so that these plumbing tests stay fast; the
    calls made (the proxy views observed, options as asked) are recorded."""
    calls = []
    real_fit = ev.fit

    def recorded_fit(observations, body, options):
        calls.append((observations.proxies, options))
        quick = dataclasses.replace(options, max_per_part=min(options.max_per_part, 16),
                                    body_iters=min(options.body_iters, 20),
                                    lm_iters=min(options.lm_iters, 2))
        return real_fit(observations, body, quick)

    monkeypatch.setattr(ev, "fit", recorded_fit)
    monkeypatch.setattr(ev.BodyCache, "get", lambda self, name: bodies.cache[name])
    return calls


def test_evaluate_gt_proxies(dataset, recorded_fit):
    result = evaluate(dataset[0], EvalConfig(num_views=3))
    s = result["summary"]
    assert s["scenes"] == 2 and s["views"] == 3 and len(result["scenes"]) == 2
    for key in ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm"):
        assert 0 < s[key] < 80  # 48 px views and capped iterations: coarse, but on the body
    for row in result["scenes"]:  # the split of PA-MPVPE's vertices: hands and the rest
        assert min(row["pa_mpvpe_body_mm"], row["pa_mpvpe_hands_mm"]) < row["pa_mpvpe_mm"] \
            < max(row["pa_mpvpe_body_mm"], row["pa_mpvpe_hands_mm"])
    views, _ = recorded_fit[0]
    assert len(views) == 3 and views.weight is None and views.cameras.width == SIZE


def test_corrupt_aggregates_samples_and_uniform_weights_replace_them(dataset, recorded_fit):
    evaluate(dataset[0], EvalConfig(corrupt=0.3, samples=3, max_scenes=1))
    views, _ = recorded_fit[-1]
    w = views.weight
    assert w is not None and 0 < w[views.seg > 0].mean() < 1 and (w[views.seg == 0] == 0).all()
    evaluate(dataset[0], EvalConfig(corrupt=0.3, samples=3, max_scenes=1))
    assert torch.equal(recorded_fit[-1][0].seg, views.seg)  # seeded per scene
    evaluate(dataset[0], EvalConfig(corrupt=0.3, samples=3, max_scenes=1, uniform_weights=True))
    u = recorded_fit[-1][0]
    assert torch.equal(u.seg, views.seg) and torch.equal(u.weight, (u.seg > 0).float())


@pytest.mark.parametrize("config, field", [
    (EvalConfig(proxies="model"), "proxies"), (EvalConfig(corrupt=2.0), "corrupt"),
    (EvalConfig(samples=0), "samples"), (EvalConfig(num_views=0), "num_views"),
    (EvalConfig(num_views=9), "num_views"),
])
def test_bad_config(dataset, recorded_fit, config, field):
    with pytest.raises(InputError, match=field):
        evaluate(dataset[0], config)


def test_gt_hand_crops_join_the_views_with_exact_proxies(dataset, recorded_fit):
    out = evaluate(dataset[0], EvalConfig(num_views=2, hand_crops=2, max_scenes=1))
    views, _ = recorded_fit[0]
    row = out["scenes"][0]
    assert 1 <= row["hand_views"] <= 2 and row["views"] == len(views) == 2 + row["hand_views"]
    assert views.cameras.width == SIZE and views.seg[2:].any() and math.isfinite(row["mpvpe_mm"])


def test_not_a_dataset(tmp_path):
    with pytest.raises(InputError, match="no scene_"):
        evaluate(tmp_path)


def test_cli_evaluate_json_and_plot(dataset, recorded_fit, tmp_path):
    plot = tmp_path / "views.png"
    res = CliRunner().invoke(app, ["evaluate", str(dataset[0]), "--num-views-sweep", "1,2,4", "--plot", str(plot),
                                   "--json", "--set", "body_iters=7"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm", "seconds_per_scene", "scenes"):
        assert math.isfinite(out[key])
    assert [s["views"] for s in out["sweep"]] == [1, 2, 4] and out["scenes"] == 2
    assert [[r["views"] for r in s["per_scene"]] for s in out["sweep"]] == [[1, 1], [2, 2], [4, 4]]
    assert [r["scene"] for r in out["per_scene"]] == ["scene_000000", "scene_000001"]
    assert all(math.isfinite(r[key]) for r in out["per_scene"] for key in ("mpvpe_mm", "keypoint_mpjpe_mm"))
    assert recorded_fit[-1][1].body_iters == 7
    assert Image.open(plot).size[0] > 100


def test_cli_bad_option(dataset, recorded_fit):
    res = CliRunner().invoke(app, ["evaluate", str(dataset[0]), "--set", "nope=1"])
    assert res.exit_code == 2 and "--set" in res.output


def test_cli_fit_writes_outputs(dataset, recorded_fit, tmp_path):
    root, _ = dataset
    res = CliRunner().invoke(app, ["fit", str(root / "scene_000001"), "--cameras", "view_02,view_00", "--out",
                                   str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(out["residual_px"]) == 2 and max(out["residual_px"]) < 5 and out["mpvpe_mm"] < 150
    fit = read_fit(tmp_path / "o")
    assert fit["meta"]["views"] == [2, 0] and fit["meta"]["cameras"] == ["view_02", "view_00"]
    assert len(fit["cameras"]) == 2
    assert (tmp_path / "o" / "overlay.png").is_file() and (tmp_path / "o" / "fit.glb").is_file()


def test_cli_fit_picks_cameras_by_their_names_in_scene_json(dataset, recorded_fit, tmp_path):
    import shutil

    root, _ = dataset
    scene = tmp_path / "scene_named"
    shutil.copytree(root / "scene_000001", scene)
    record = json.loads((scene / "scene.json").read_text())
    for cam, name in zip(record["cameras"], ("front", "left", "back", "right")):
        cam["name"] = name
    (scene / "scene.json").write_text(json.dumps(record))
    res = CliRunner().invoke(app, ["fit", str(scene), "--cameras", "back,front", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert read_fit(tmp_path / "o")["meta"]["views"] == [2, 0]
    assert torch.equal(recorded_fit[-1][0].seg, torch.as_tensor(np.load(scene / "proxies.npz")["seg"][[2, 0]]))
    res = CliRunner().invoke(app, ["fit", str(scene), "--cameras", "view_00", "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "--cameras: view_00 is not a camera" in res.output
    assert "(its cameras: front, left, back, right)" in res.output


def test_cli_fit_from_a_proxy_folder(dataset, recorded_fit, tmp_path):
    root, _ = dataset
    arrays = dict(np.load(root / "scene_000000" / "proxies.npz"))
    (tmp_path / "p").mkdir()
    np.savez(tmp_path / "p" / "proxies.npz", seg=arrays["seg"], uv=arrays["uv"],
             weight=(arrays["seg"] > 0).astype(np.float32))
    res = CliRunner().invoke(app, ["fit", str(root / "scene_000000"), "--proxies-dir", str(tmp_path / "p"),
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert recorded_fit[-1][0].weight is not None
    np.savez(tmp_path / "p" / "proxies.npz", seg=arrays["seg"][:2], uv=arrays["uv"][:2])
    res = CliRunner().invoke(app, ["fit", str(root / "scene_000000"), "--proxies-dir", str(tmp_path / "p"),
                                   "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "'seg'" in res.output and not (tmp_path / "o2").exists()


@pytest.mark.parametrize("args, message", [
    (["--cameras", "view_00,view_07"], "--cameras: view_07 is not a camera"),
    (["--cameras", "a"], "(its cameras: view_00, view_01, view_02, view_03)"),
    (["--cameras", "view_01,view_01"], "--cameras: expected distinct camera names"),
    (["--proxies-dir", "/nonexistent"], "proxies.npz"),
    (["--proxies", "model"], "--proxies: fit takes gt, got 'model'"),
    (["--proxies", "{tmp}"], "pass it as --proxies-dir"),
                                           (["--vposer", "/nonexistent"], "21 body joints; body model 'anny'"),
                                           (["--set", "body_iters=-5"], "--set body_iters"),
                                           (["--set", "robust_sigma_px=nan"], "--set robust_sigma_px")])
def test_cli_fit_bad_input(dataset, recorded_fit, tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    res = CliRunner().invoke(app, ["fit", str(dataset[0] / "scene_000000"), "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2 and message in res.output, res.output


@pytest.mark.slow
def test_real_fit_gives_finite_metrics(dataset):
    fast = FitOptions(max_per_part=8, global_iters=10, body_iters=10, lm_iters=2)
    result = evaluate(dataset[0], EvalConfig(num_views=4, max_scenes=1, options=fast))
    s = result["summary"]
    assert all(math.isfinite(s[k]) for k in ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm"))
    assert s["mpvpe_mm"] < 300


def test_a_scene_that_cannot_be_fitted_is_reported_not_fatal(dataset, bodies, monkeypatch):
    def no_correspondences(observations, body, options):
        raise ValueError("only 0 proxy pixels map onto the body: too few to fit")

    monkeypatch.setattr(ev, "fit", no_correspondences)
    monkeypatch.setattr(ev.BodyCache, "get", lambda self, name: bodies.cache[name])
    out = evaluate(dataset[0], EvalConfig(max_scenes=2))
    assert out["summary"]["failed"] == 2 and out["summary"]["scenes"] == 2
    assert math.isnan(out["summary"]["mpvpe_mm"]) and "too few" in out["scenes"][0]["error"]
    assert all(math.isnan(row[k]) for row in out["scenes"] for k in ev.REGION_METRICS)
    from engine.cli.fit_cmds import _print_table

    _print_table(out, None)  # the table prints failed rows too


def test_parallel_scenes_give_the_same_rows(dataset):
    """--jobs 2: two worker processes (spawned, their own Anny from the cache) fit the scenes;
    the rows come back in order, and match a one-process run."""
    options = FitOptions(max_per_part=16, body_iters=20, lm_iters=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the workers get one each, like this one-thread run
    try:
        two = evaluate(dataset[0], EvalConfig(num_views=3, options=options), jobs=2)
        torch.set_num_threads(1)
        one = evaluate(dataset[0], EvalConfig(num_views=3, options=options))
    finally:
        torch.set_num_threads(threads)
    assert [r["scene"] for r in two["scenes"]] == [r["scene"] for r in one["scenes"]]
    for a, b in zip(one["scenes"], two["scenes"]):
        assert (b["views"], b["correspondences"], b["init"]) == (a["views"], a["correspondences"], a["init"])
        for key in ("mpvpe_mm", "pa_mpvpe_mm", "keypoint_mpjpe_mm", "residual_px"):
            assert b[key] == pytest.approx(a[key], rel=1e-3)  # not bit for bit across processes (5e-6 seen)
    s = two["summary"]
    assert s["jobs"] == 2 and s["wall_seconds_per_scene"] > 0 and math.isfinite(s["seconds_per_scene"])
    with pytest.raises(InputError, match="jobs"):
        evaluate(dataset[0], EvalConfig(proxies="model-only", checkpoint="x"), jobs=2)


@pytest.fixture
def with_a_damaged_scene(dataset, tmp_path):
    """The two scenes with a damaged one between them (its proxies.npz cut short)."""
    import shutil

    root = tmp_path / "damaged"
    shutil.copytree(dataset[0] / "scene_000000", root / "scene_000000")
    shutil.copytree(dataset[0] / "scene_000001", root / "scene_000001b")
    shutil.copytree(dataset[0] / "scene_000001", root / "scene_000000b")
    path = root / "scene_000000b" / "proxies.npz"
    path.write_bytes(path.read_bytes()[:200])
    return root


def test_a_damaged_scene_is_reported_and_the_others_kept(with_a_damaged_scene, recorded_fit):
    out = evaluate(with_a_damaged_scene, EvalConfig(num_views=2))
    s = out["summary"]
    assert [r["scene"] for r in out["scenes"]] == ["scene_000000", "scene_000000b", "scene_000001b"]
    assert s["failed"] == 1 and [f["scene"] for f in s["failed_scenes"]] == ["scene_000000b"]
    assert "proxies.npz" in s["failed_scenes"][0]["error"]
    assert len(recorded_fit) == 2 and math.isfinite(s["mpvpe_mm"])  # the scene after it was fitted too


def test_cli_evaluate_goes_on_past_a_damaged_scene_and_exits_1_at_the_end(with_a_damaged_scene, recorded_fit):
    res = CliRunner().invoke(app, ["evaluate", str(with_a_damaged_scene), "--num-views-sweep", "1,2", "--json"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1], parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert [s["failed_scenes"][0]["scene"] for s in out["sweep"]] == ["scene_000000b"] * 2
    assert [s["scenes"] for s in out["sweep"]] == [3, 3] and len(recorded_fit) == 4
    assert [r["mpvpe_mm"] is None for r in out["per_scene"]] == [False, True, False]  # the damaged one: null
    assert "scene_000000b" in res.stderr


@pytest.mark.parametrize("args, message", [(["--num-views-sweep", "1,99"], "--num-views-sweep: 99"),
                                           (["--num-views", "9"], "--num-views: 9"),
                                           (["--proxies", "model-onyl"], "--proxies: evaluate takes gt or none or "
                                                                         "model or model-only, got 'model-onyl'"),
                                           (["--plot", "{file}/views.png"], "--plot"),
                                           (["--plot", "{tmp}"], "--plot")])
def test_cli_evaluate_checks_its_settings_and_outputs_before_the_first_fit(dataset, recorded_fit, tmp_path, args,
                                                                         message):
    (tmp_path / "file").write_text("")
    args = [a.format(file=tmp_path / "file", tmp=tmp_path) for a in args]
    res = CliRunner().invoke(app, ["evaluate", str(dataset[0]), *args])
    assert res.exit_code == 2 and message in res.output, res.output
    assert recorded_fit == []


def test_cli_evaluate_prints_the_summary_when_the_plot_fails(dataset, recorded_fit, tmp_path, monkeypatch):
    import engine.evaluation.plot

    def broken(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.evaluation.plot, "plot_error_vs_views", broken)
    res = CliRunner().invoke(app, ["evaluate", str(dataset[0]), "--num-views", "1", "--plot", str(tmp_path / "v.png"),
                                   "--json", "--max-scenes", "1"])
    assert res.exit_code == 1 and "No space left" in res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["scenes"] == 1


def test_cli_fit_checks_its_out_folder_before_the_fit(dataset, recorded_fit, tmp_path):
    (tmp_path / "afile").write_text("")
    res = CliRunner().invoke(app, ["fit", str(dataset[0] / "scene_000000"), "--out", str(tmp_path / "afile" / "o")])
    assert res.exit_code == 2 and "--out" in res.output and "is a file" in res.output, res.output
    assert recorded_fit == []
