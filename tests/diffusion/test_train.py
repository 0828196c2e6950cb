"""Training (accelerate on the CPU), exact resume, sampling with K samples and hand crops,
and the small proof that it learns: the tiny model overfits one scene whose images are
its part palette, then reproduces its proxies and `evaluate --proxies model` scores them."""

import json

import pytest
import torch
from helpers import write_proxy_scene
from typer.testing import CliRunner

from engine.cli.main import app
from engine.diffusion.checkpoint import checkpoints
from engine.diffusion.packed import read_scene_evidence
from engine.evaluation.model_proxies import read_images
from engine.proxy.hands import HANDS
from engine.diffusion.model import ProxyDiffusionModel
from engine.diffusion.sample import ProxySampler, SampleOptions, load_generator
from engine.diffusion.configs import build_model
from engine.diffusion.data import BatchSpec, TrainBatches
from engine.diffusion.packed import pack_dataset
from engine.diffusion.train import TrainConfig, diffusion_loss, learning_rate, make_scheduler, resume_config, train
from engine.errors import InputError
from engine.evaluation.proxies import scene_cameras
from engine.io.scene import read_scene
from engine.proxy.quality import seg_miou

pytestmark = pytest.mark.xdist_group("diffusion_train")
SIZE = 32


# Session scope: xdist's loadgroup can interleave this module's tests with others' on its worker,
# and a module-scoped fixture is then built again (the 500-step training ran twice, ~3 min each).
@pytest.fixture(scope="session")
def one_scene(tmp_path_factory, anny32, anny_proxy):
    root = tmp_path_factory.mktemp("one_scene")
    write_proxy_scene(root / "scene_000000", 0, anny32, anny_proxy, SIZE, 2, images="palette")
    return root


def _cfg(root, out, **kw) -> TrainConfig:
    base = dict(config="tiny", batch_size=2, lr=2e-3, warmup_steps=10, min_views=2, max_views=2, hand_crops=0,
                augment=False, log_every=1, val_every=10**6, workers=0)
    return TrainConfig(str(root), str(out), **{**base, **kw})


@pytest.fixture(scope="session")
def overfit(one_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("overfit") / "ckpt"
    summary = train(_cfg(one_scene, out, max_steps=500, log_every=50, save_every=500))
    return out, summary


def test_resume_continues_exactly_where_the_interrupted_run_stopped(one_scene, tmp_path, monkeypatch):
    straight = train(_cfg(one_scene, tmp_path / "a", max_steps=4, save_every=2, hand_crops=1, augment=True))

    def interrupt(stage, done, total):
        if (stage, done) == ("train", 3):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg(one_scene, tmp_path / "b", max_steps=4, save_every=2, hand_crops=1, augment=True),
              progress=interrupt)
    assert [s for s, _ in checkpoints(tmp_path / "b")] == [2]  # step 3 was lost with the interruption
    with pytest.raises(InputError, match="--resume"):
        train(_cfg(one_scene, tmp_path / "b", max_steps=4))
    import engine.diffusion.train as train_module

    losses, steps = [], []  # what the resumed run computes: steps 3 and 4 only, from checkpoint 2
    real_loss = train_module.diffusion_loss
    monkeypatch.setattr(train_module, "diffusion_loss", lambda *a, **k: losses.append(1) or real_loss(*a, **k))
    resumed = train(_cfg(one_scene, tmp_path / "b", max_steps=4, save_every=2, hand_crops=1, augment=True),
                    resume=True, progress=lambda stage, done, total: steps.append((stage, done, total)))
    # the step it resumes from, then the two it trains: a resume that retrains from step 0 gives the same weights
    assert steps == [("train", 2, 4), ("train", 3, 4), ("train", 4, 4)] and len(losses) == 2
    assert resumed["steps"] == straight["steps"] == 4 and resumed["loss"] == straight["loss"]
    a = ProxyDiffusionModel.from_pretrained(straight["checkpoint"]).state_dict()
    b = ProxyDiffusionModel.from_pretrained(resumed["checkpoint"]).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line)["step"] for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4]  # the lost step's line was rewritten, not repeated
    assert (tmp_path / "b" / "checkpoint-000004" / "model" / "diffusion_pytorch_model.safetensors").is_file()
    assert not list((tmp_path / "b").glob(".*partial"))


@pytest.mark.slow  # the 500-step training fixture
def test_a_fine_tuning_run_starts_from_the_trained_weights(one_scene, overfit, tmp_path):
    """--init-from: step 1 of a fresh run at learning rate 0 keeps the trained weights, which
    a random start would not have; the folder must hold the named configuration's model."""
    trained_out, _ = overfit
    tuned = train(_cfg(one_scene, tmp_path / "ft", max_steps=1, lr=0.0, warmup_steps=0, hand_crops=1,
                       init_from=str(trained_out)))
    assert tuned["steps"] == 1
    a = ProxyDiffusionModel.from_pretrained(checkpoints(trained_out)[-1][1] / "model").state_dict()
    b = ProxyDiffusionModel.from_pretrained(tuned["checkpoint"]).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = ProxyDiffusionModel.from_pretrained(
        train(_cfg(one_scene, tmp_path / "fresh", max_steps=1, lr=0.0, warmup_steps=0))["checkpoint"]).state_dict()
    assert not all(torch.equal(a[k], fresh[k]) for k in a)
    record = json.loads((tmp_path / "ft" / "train_config.json").read_text())
    # the record names the weights it started from, not the run (which may go on)
    assert record["init_from"] == str((checkpoints(trained_out)[-1][1] / "model").resolve())
    assert record["hand_crops"] == 1
    with pytest.raises(InputError, match="--prediction-type: 'epsilon', but the model .* 'sample'"):
        train(_cfg(one_scene, tmp_path / "eps", max_steps=1, prediction_type="epsilon", init_from=str(trained_out)))
    with pytest.raises(InputError, match="--init-from: .*config.json: field 'image_size' is 32, config 'small'"):
        train(_cfg(one_scene, tmp_path / "wrong", config="small", max_steps=1, init_from=str(trained_out)))
    with pytest.raises(InputError, match="--init-from: .* holds no model"):
        train(_cfg(one_scene, tmp_path / "none", max_steps=1, init_from=str(tmp_path)))


@pytest.mark.slow  # the 500-step training fixture
def test_the_tiny_model_overfits_one_scene(one_scene, overfit):
    out, summary = overfit
    assert summary["loss"] < 0.01
    model, scheduler = load_generator(out)
    scene = read_scene(one_scene / "scene_000000")
    evidence = read_scene_evidence(scene, [0, 1])
    result = ProxySampler(model, scheduler, SampleOptions(samples=3, steps=4))(
        read_images(scene, [0, 1]), scene_cameras(scene, [0, 1]), evidence=evidence)
    assert seg_miou(result.proxy.seg, torch.as_tensor(scene.proxies["seg"])) >= 0.9
    assert result.proxy.weight.max() <= 1 and (result.proxy.weight[result.proxy.seg == 0] == 0).all()
    torch.manual_seed(1)
    untrained = ProxyDiffusionModel(**{**model.config}).eval()
    chance = ProxySampler(untrained, scheduler, SampleOptions(samples=3, steps=4))(
        read_images(scene, [0, 1]), scene_cameras(scene, [0, 1]), evidence=evidence)
    assert seg_miou(chance.proxy.seg, torch.as_tensor(scene.proxies["seg"])) < 0.3


def test_the_learning_rate_warms_up_then_decays_to_zero_at_the_last_step(tmp_path):
    cfg = _cfg(tmp_path, tmp_path / "out", lr=1e-3, warmup_steps=10, max_steps=110)
    assert learning_rate(cfg, 5) == pytest.approx(5e-4) and learning_rate(cfg, 10) == pytest.approx(1e-3)
    assert learning_rate(cfg, 60) == pytest.approx(5e-4) and learning_rate(cfg, 110) == pytest.approx(0, abs=1e-12)
    assert all(learning_rate(cfg, s) > learning_rate(cfg, s + 1) for s in range(10, 110))
    constant = _cfg(tmp_path, tmp_path / "out", lr=1e-3, warmup_steps=10, max_steps=110, lr_schedule="constant")
    assert learning_rate(constant, 110) == 1e-3
    with pytest.raises(InputError, match="lr_schedule"):
        _cfg(tmp_path, tmp_path / "out", lr_schedule="linear").check()


def test_the_uv_body_weight_is_checked_and_old_runs_resume_without_it(tmp_path):
    for bad in (dict(uv_body_weight=-1.0), dict(uv_body_weight=float("nan")),
                dict(config="sd21", sd21_path="x", uv_body_weight=1.0)):
        with pytest.raises(InputError, match="uv_body_weight"):
            _cfg(tmp_path, tmp_path / "out", **bad).check()
    record = {k: v for k, v in vars(_cfg(tmp_path, tmp_path / "old")).items() if k != "uv_body_weight"}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "train_config.json").write_text(json.dumps(record))
    assert resume_config(tmp_path / "old").uv_body_weight == 0.0  # the loss it was trained with


def test_the_loss_takes_a_distributed_wrapper(one_scene, tmp_path):
    """Under ``accelerate launch`` the model is wrapped in DistributedDataParallel, which hides
    the model's own attributes: the loss gets the codec separately."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    wrapped = loss = None
    try:
        torch.manual_seed(0)
        model = build_model("tiny")
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
        batch = TrainBatches(pack_dataset(one_scene), [0], BatchSpec(SIZE, 1, 2, 2, augment=False, evidence=True), 1)[0]
        loss = diffusion_loss(wrapped, model.codec, make_scheduler(model), batch, torch.Generator().manual_seed(0))
        loss.backward()
        assert torch.isfinite(loss) and model.unet.conv_in.weight.grad is not None
    finally:
        # the wrapper's reducer first, while its process group lives: freed after the group
        # was destroyed, its gloo threads were once joined forever (a CI run hung here)
        del wrapped, loss
        dist.destroy_process_group()


def test_the_part_head_adds_the_cross_entropy_of_its_logits(one_scene):
    """loss = MSE of the x0 estimate (expected palette colour, rest coordinates) + CE of the part logits."""
    from engine.diffusion.codec import decode_views, encode_views, proxy_images
    from engine.diffusion.train import batch_cameras

    torch.manual_seed(0)
    model = build_model("tiny")
    assert model.config.seg_head == "parts" and build_model("tiny", seg_head="palette").config.seg_head == "palette"
    batch = TrainBatches(pack_dataset(one_scene), [0], BatchSpec(SIZE, 1, 2, 2, augment=False, evidence=True), 1)[0]
    scheduler = make_scheduler(model)
    loss = diffusion_loss(model, model.codec, scheduler, batch, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)  # the same draws as the loss: noise, then the timestep
    x0 = encode_views(model.codec, proxy_images(batch["seg"], batch["uv"], model.codec.rest).transpose(1, 2))
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=g)
    pred, logits = model(scheduler.add_noise(x0, noise, t), t, batch["rgb"], batch_cameras(batch, SIZE),
                         batch["evidence"], return_logits=True)
    ce = torch.nn.functional.cross_entropy(logits[0], batch["seg"][0].long())
    assert torch.allclose(loss, torch.nn.functional.mse_loss(pred, x0) + ce, rtol=1e-5)
    assert ce > 1.0  # about ln(47) at the start: the logits know nothing yet
    # plus w x the uv stream's squared error over the body's pixels, read in pixel space
    weighted = diffusion_loss(model, model.codec, scheduler, batch, torch.Generator().manual_seed(0),
                              uv_body_weight=2.5)
    uv_pred, uv_true = (decode_views(model.codec, x)[0, 1] for x in (pred, x0))  # (V, 3, S, S)
    body = (batch["seg"][0] > 0)[:, None].expand_as(uv_pred)
    on_body = (uv_pred - uv_true)[body].square().mean()
    assert torch.allclose(weighted, loss + 2.5 * on_body, rtol=1e-5) and body.float().mean() < 0.5
    with pytest.raises(InputError, match="prediction_type"):
        make_scheduler(model, "epsilon")


@pytest.mark.slow  # the 500-step training fixture
def test_evaluate_with_model_proxies(one_scene, overfit):
    out, _ = overfit
    result = CliRunner().invoke(app, ["evaluate", str(one_scene), "--proxies", "model-only", "--checkpoint", str(out),
                                      "--steps", "4", "--samples", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    for key in ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm", "seconds_per_scene", "scenes",
                "seg_miou", "surface_error_mm"):
        assert key in summary
    assert summary["seg_miou"] >= 0.9 and summary["surface_error_mm"] < 20 and summary["samples"] == 2
    assert summary["proxies"] == "model-only"  # the summary says what the command line said
    bad = CliRunner().invoke(app, ["evaluate", str(one_scene), "--proxies", "model-only"])
    assert bad.exit_code == 2 and "--checkpoint" in bad.output


def test_hand_refinement_adds_hand_crops_as_views(one_scene):
    from diffusers import DDIMScheduler

    torch.manual_seed(0)
    model = ProxyDiffusionModel().eval()
    scheduler = DDIMScheduler(prediction_type="sample", timestep_spacing="trailing", rescale_betas_zero_snr=True)
    scene = read_scene(one_scene / "scene_000000")
    images, cams = read_images(scene, [0, 1]), scene_cameras(scene, [0, 1])
    seg_first = ProxySampler(model, scheduler, SampleOptions(samples=2, steps=2))(images, cams).proxy.seg
    out = ProxySampler(model, scheduler, SampleOptions(samples=2, steps=2, hand_crops=3))(images, cams)
    assert out.hand_views > 0  # an untrained model paints hand parts somewhere
    n = 2 + out.hand_views
    assert out.proxy.seg.shape == (n, SIZE, SIZE) and len(out.cameras) == n and out.samples_seg.shape[:2] == (2, n)
    # a crop keeps its view's extrinsics, and its square box frames hand pixels of the first
    # pass (the images are 32 px like the model, so box and part map share coordinates)
    hand_ids = torch.tensor([i for ids in HANDS.values() for i in ids])
    for k in range(2, n):
        v = out.source_view[k]
        assert torch.equal(out.cameras.R_cam_world[k], cams.R_cam_world[v].to(out.cameras.R_cam_world.dtype))
        x0, y0, x1, y1 = out.boxes[k].tolist()
        assert x1 - x0 == pytest.approx(y1 - y0) and x1 - x0 >= SIZE / 4 - 1e-6
        inside = seg_first[v, max(0, int(y0)):int(y1) + 1, max(0, int(x0)):int(x1) + 1]
        assert torch.isin(inside, hand_ids).any()


def test_cli_train_and_resume(one_scene, tmp_path):
    out = tmp_path / "ckpt"
    args = ["train", str(one_scene), "--config", "tiny", "--out", str(out), "--max-steps", "2", "--batch-size", "1",
            "--min-views", "2", "--max-views", "2", "--hand-crops", "0", "--save-every", "1", "--workers", "0",
            "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.strip().splitlines()[-1])["steps"] == 2
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    more = CliRunner().invoke(app, ["train", str(one_scene), "--out", str(out), "--resume", "--max-steps", "3",
                                    "--json"])
    assert more.exit_code == 0, more.output
    summary = json.loads(more.output.strip().splitlines()[-1])
    assert summary["steps"] == 3 and summary["checkpoint"].endswith("checkpoint-000003/model")
    assert json.loads((out / "train_config.json").read_text())["config"] == "tiny"  # the run's own settings
    bad = CliRunner().invoke(app, ["train", str(one_scene), "--config", "huge", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "huge" in bad.output


@pytest.mark.parametrize("lr", ["-1", "nan", "inf"])
def test_cli_train_refuses_a_bad_learning_rate(one_scene, tmp_path, lr):
    res = CliRunner().invoke(app, ["train", str(one_scene), "--config", "tiny", "--out", str(tmp_path / "o"),
                                   "--lr", lr, "--max-steps", "1", "--batch-size", "1", "--min-views", "2",
                                   "--max-views", "2", "--hand-crops", "0", "--workers", "0"])
    assert res.exit_code == 2 and "lr: a finite learning rate >= 0" in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_train_on_a_read_only_dataset_packs_where_it_is_told(one_scene, tmp_path):
    import os
    import shutil
    import sys
    from pathlib import Path

    from helpers import run_read_only

    data = tmp_path / "data"
    shutil.copytree(one_scene / "scene_000000", data / "scene_000000")
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "engine.cli.main", "train", data, "--config", "tiny", "--out", tmp_path / "o",
           "--max-steps", "1", "--batch-size", "1", "--min-views", "2", "--max-views", "2", "--hand-crops", "0",
           "--workers", "0", "--json"]
    res = run_read_only([data], cmd, env=env, timeout=600)
    assert res.returncode == 2 and "pass --packed DIR" in res.stderr and "Traceback" not in res.stderr, \
        res.stderr[-3000:]
    res = run_read_only([data], [*cmd, "--packed", tmp_path / "packed"], env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "packed" / "index.json").is_file() and json.loads(res.stdout.splitlines()[-1])["steps"] == 1


def test_cli_train_resume_without_a_run_says_it_starts_a_new_one(one_scene, tmp_path):
    res = CliRunner().invoke(app, ["train", str(one_scene), "--config", "tiny", "--out", str(tmp_path / "o"),
                                   "--resume", "--lr", "-1"])  # refused after the notice, before any work
    assert "--resume: no run in" in res.output and "starting a new one" in res.output, res.output


@pytest.mark.slow  # the 500-step training fixture
def test_export_writes_a_float16_model_that_loads_as_float32(overfit, tmp_path):
    from safetensors import safe_open

    out, _ = overfit
    result = CliRunner().invoke(app, ["export", str(out), "--out", str(tmp_path / "shipped")])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "shipped"
    with safe_open(folder / "diffusion_pytorch_model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert (folder / "train_config.json").is_file() and (folder / "log.jsonl").is_file()
    model, scheduler = load_generator(folder)
    original, _ = load_generator(out)
    assert next(model.parameters()).dtype == torch.float32
    for (name, a), b in zip(model.state_dict().items(), original.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name
    (folder / "MODEL_CARD.md").write_text("card")
    assert CliRunner().invoke(app, ["export", str(out), "--out", str(folder)]).exit_code == 0
    assert (folder / "MODEL_CARD.md").read_text() == "card"  # a re-export keeps the card
    bad = CliRunner().invoke(app, ["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "nothing: no such folder" in bad.output and not (tmp_path / "x").exists()
