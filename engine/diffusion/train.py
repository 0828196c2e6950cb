"""Training of the proxy denoiser with ``accelerate``: the same loop on one CPU and on many
GPUs and nodes (``accelerate launch -m engine.cli.main train ...``).

Every process draws its own batches, a pure function of (seed, step, process), and its
own noise from a generator seeded the same way; together with the optimizer state in
the checkpoint, a run resumed from checkpoint N computes exactly the steps N+1... that
the interrupted run would have (bit for bit on a CPU in float32; GPU kernels are not
deterministic unless torch is told to be). The loss is the mean squared error of the
scheduler's prediction target (x0 for the pixel configurations, the SD folder's own for
``sd21``) over both modalities of all views; with the part head (``seg_head="parts"``) plus
the cross-entropy of its per-pixel part logits; in the pixel configurations plus (weight
``uv_body_weight``) the uv stream's part of that squared error averaged over the body's
pixels only, which the plain mean dilutes over a background 10-15x larger in a full-body
view. Logged losses of runs with and without the term do not compare.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.diffusion.checkpoint import checkpoints, load_optimizer, resolve_model_folder, save_checkpoint
from engine.diffusion.codec import PixelCodec, encode_views, proxy_images
from engine.diffusion.configs import CONFIGS, build_model, model_config
from engine.diffusion.data import BatchSpec, TrainBatches
from engine.diffusion.packed import PackedScenes, pack_dataset
from engine.errors import InputError
from engine.geometry.camera import Cameras
from engine.io.files import atomic_write_bytes, check_writable_folder, read_json
from engine.step_progress import Progress, no_progress


@dataclass
class TrainConfig:
    dataset: str
    out: str
    config: str = "small"
    max_steps: int = 10000
    batch_size: int = 2
    lr: float = 2e-4
    warmup_steps: int = 100
    lr_schedule: str = "cosine"  # after the warm-up: "cosine" (to 0 at max_steps) or "constant"
    min_views: int = 1
    max_views: int = 4
    hand_crops: int = 2
    augment: bool = True
    val_scenes: int = 0  # the last N scenes are held out; 0: 10% of them (none with fewer than 5)
    val_every: int = 500
    save_every: int = 500
    log_every: int = 10
    workers: int = 2
    seed: int = 0
    mixed_precision: str = "no"  # "no", "fp16", "bf16"
    sd21_path: str | None = None
    dinov2_path: str | None = None
    prediction_type: str | None = None  # None: "sample" (x0; v needs 3x the steps, README), sd21: the folder's
    uv_body_weight: float | None = None  # the uv stream's error on the body's pixels; None: 1 (pixel configs), 0 (sd21)
    init_from: str | None = None  # a fresh run starts from this trained model's weights (``initial_model``)
    packed: str | None = None  # where the packed training set lives; None: DATASET/packed
    evidence: bool = True  # condition on MediaPipe's landmarks and mask (False: the ablation)

    @property
    def pixel_space(self) -> bool:
        return CONFIGS[self.config]["codec"] == "pixel"

    def check(self) -> None:
        if not (math.isfinite(self.lr) and self.lr >= 0):  # 0 trains nothing, but runs the loop (tests)
            raise InputError(f"lr: a finite learning rate >= 0, got {self.lr}")
        for name in ("max_steps", "batch_size", "val_every", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if not 1 <= self.min_views <= self.max_views:
            raise InputError(f"views: need 1 <= min_views <= max_views, got {self.min_views}, {self.max_views}")
        if self.hand_crops < 0 or self.workers < 0 or self.val_scenes < 0 or self.warmup_steps < 0:
            raise InputError("hand_crops, workers, val_scenes and warmup_steps must not be negative")
        if self.config not in CONFIGS:
            raise InputError(f"config: unknown configuration {self.config!r}; choose one of {', '.join(CONFIGS)}")
        if self.config == "sd21" and not self.sd21_path:
            raise InputError("config 'sd21' needs --sd21 PATH: a local diffusers Stable Diffusion 2.1 folder")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise InputError(f"mixed_precision: no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise InputError(f"lr_schedule: cosine or constant, got {self.lr_schedule!r}")
        if self.uv_body_weight is not None and (not math.isfinite(self.uv_body_weight) or self.uv_body_weight < 0 or
                                                (self.uv_body_weight and not self.pixel_space)):
            raise InputError(f"uv_body_weight: a weight >= 0, and 0 for {self.config} (a latent has no body pixels), "
                             f"got {self.uv_body_weight}")
        if self.prediction_type not in (None, "sample", "epsilon", "v_prediction"):
            raise InputError(f"prediction_type: sample, epsilon or v_prediction, got {self.prediction_type!r}")


def resume_config(out: Path, max_steps: int | None = None) -> TrainConfig:
    """The settings of the run in ``out`` (``train_config.json``), with a new ``max_steps``;
    ``out`` itself is where the run lives now (it may have moved)."""
    path = Path(out) / "train_config.json"
    record = read_json(path)
    record.pop("world_size", None)
    record.setdefault("uv_body_weight", 0.0)  # runs from before the term keep their loss
    record.setdefault("evidence", False)  # and runs from before the evidence channels their inputs
    try:
        cfg = TrainConfig(**record)
    except TypeError as e:
        raise InputError(f"{path}: not a training config of this version ({e})") from e
    cfg.out = str(out)
    if max_steps is not None:
        cfg.max_steps = max_steps
    return cfg


def initial_model(cfg: TrainConfig):
    """A fine-tuning run's start: the weights and noise schedule of the trained model in
    ``cfg.init_from`` (a model folder, or a training folder: its latest checkpoint), with a
    fresh optimiser, step 0 and this run's own settings (views, crops, schedule). The model
    must be of ``cfg.config``'s architecture."""
    from diffusers import DDPMScheduler

    from engine.diffusion.model import ProxyDiffusionModel

    folder = resolve_model_folder(Path(cfg.init_from), "--init-from")
    paths = {"pretrained_path": cfg.sd21_path, "dinov2_path": cfg.dinov2_path}  # this machine's, when given
    model = ProxyDiffusionModel.from_pretrained(folder, **{k: v for k, v in paths.items() if v})
    wanted = {"image_encoder": "patch", **model_config(cfg.config, cfg.sd21_path, cfg.dinov2_path, cfg.evidence)}
    for key, want in wanted.items():
        have = model.config.get(key)
        if key not in paths and _plain(have) != _plain(want):
            raise InputError(f"--init-from: {folder / 'config.json'}: field {key!r} is {have!r}, config "
                             f"{cfg.config!r} (with --dinov2 as given) has {want!r}")
    scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
    if cfg.prediction_type and cfg.prediction_type != scheduler.config.prediction_type:
        raise InputError(f"--prediction-type: {cfg.prediction_type!r}, but the model in {folder} was trained for "
                         f"{scheduler.config.prediction_type!r}")
    return model, scheduler, folder


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def make_scheduler(model, prediction_type: str | None = None):
    """The training noise schedule: zero terminal SNR (so that few-step sampling starts from
    pure noise); in latent space the SD folder's own schedule and prediction type (its frozen
    UNet was trained for them) when it has one."""
    from diffusers import DDPMScheduler

    path = model.config.pretrained_path
    if path and (Path(path) / "scheduler" / "scheduler_config.json").is_file():
        own = {"prediction_type": prediction_type} if prediction_type else {}
        return DDPMScheduler.from_pretrained(path, subfolder="scheduler", rescale_betas_zero_snr=True,
                                             timestep_spacing="trailing", **own)
    if model.config.seg_head == "parts" and prediction_type not in (None, "sample"):
        raise InputError(f"prediction_type: the part head predicts x0 ('sample'), not {prediction_type!r}")
    return DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type=prediction_type or "sample",
                         rescale_betas_zero_snr=True, timestep_spacing="trailing",
                         clip_sample=model.config.codec == "pixel")


def split_scenes(n: int, val: int) -> tuple[list[int], list[int]]:
    val = val or (max(1, n // 10) if n >= 5 else 0)
    if val >= n:
        raise InputError(f"val_scenes: {val} held out leaves no training scene of {n}")
    return list(range(n - val)), list(range(n - val, n))


def batch_cameras(batch: dict, size: int) -> list[Cameras]:
    return [Cameras(batch["K"][b], batch["R_cam_world"][b], batch["t_cam_world"][b], size, size)
            for b in range(batch["K"].shape[0])]


def diffusion_loss(model, codec, scheduler, batch: dict, generator: torch.Generator, timesteps=None,
                   uv_body_weight: float = 0.0) -> torch.Tensor:
    """The denoising loss of one batch, its noise (and timesteps) drawn from ``generator``.
    ``model`` may be wrapped (DistributedDataParallel): ``codec`` comes separately.
    ``uv_body_weight`` adds the uv stream's part of the squared error (of the prediction
    target) averaged over the body's pixels only (pixel codecs): the plain mean is over all
    pixels, of which the body covers 6-9% in the proof's full-body views."""
    device = next(model.parameters()).device
    x0 = encode_views(codec, proxy_images(batch["seg"], batch["uv"], codec.rest).transpose(1, 2).to(device))
    B = x0.shape[0]
    noise = torch.randn(x0.shape, generator=generator).to(device)
    if timesteps is None:
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (B,), generator=generator)
    timesteps = timesteps.to(device)
    noisy = scheduler.add_noise(x0, noise, timesteps)
    kind = scheduler.config.prediction_type
    target = scheduler.get_velocity(x0, noise, timesteps) if kind == "v_prediction" else \
        {"epsilon": noise, "sample": x0}[kind]
    evidence = batch["evidence"].to(device) if "evidence" in batch else None
    pred, logits = model(noisy, timesteps, batch["rgb"].to(device), batch_cameras(batch, batch["rgb"].shape[-1]),
                         evidence, return_logits=True)
    loss = torch.nn.functional.mse_loss(pred.float(), target.float())
    if uv_body_weight:
        loss = loss + uv_body_weight * _body_mse(codec, pred[:, 1].float(), target[:, 1].float(), batch["seg"] > 0)
    if logits is not None:  # the part head: its x0 is the expected palette colour; also classify each pixel
        seg = batch["seg"].to(device).flatten(0, 1).long()
        loss = loss + torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), seg)
    return loss


def _body_mse(codec, pred: torch.Tensor, target: torch.Tensor, body: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the body's pixels of (B, V, C, h, w) images in a pixel codec's
    space, ``body`` (B, V, H, W)."""
    if not isinstance(codec, PixelCodec):
        raise InputError("uv_body_weight: only for the pixel configurations (a latent has no body pixels)")
    mask = codec.encode(body.flatten(0, 1).to(pred)[:, None].expand(-1, 3, -1, -1)).reshape(pred.shape)
    return ((pred - target) ** 2 * mask).sum() / mask.sum().clamp(min=1)


def _generator(*key: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1)[0]))


def train(cfg: TrainConfig, resume: bool = False, progress: Progress = no_progress) -> dict:
    """Train (or resume) into ``cfg.out``. ``progress(stage, done, total)`` from the main process:
    "pack" (scenes, while the dataset is packed), then "train" (steps: the step it starts from,
    then each logged step; the logged values are in ``cfg.out``/log.jsonl)."""
    from accelerate import Accelerator
    from diffusers import DDPMScheduler

    from engine.diffusion.model import ProxyDiffusionModel

    cfg.check()
    absolute = lambda p: str(Path(p).resolve()) if p else p  # noqa: E731  (the record must survive a cd)
    cfg = replace(cfg, dataset=absolute(cfg.dataset), sd21_path=absolute(cfg.sd21_path),
                  dinov2_path=absolute(cfg.dinov2_path), init_from=absolute(cfg.init_from), packed=absolute(cfg.packed),
                  uv_body_weight=cfg.uv_body_weight if cfg.uv_body_weight is not None else float(cfg.pixel_space))
    out = Path(cfg.out)
    check_writable_folder(out, "--out")
    found = checkpoints(out)
    if found and not resume:
        raise InputError(f"--out: {out} already holds checkpoints; pass --resume to continue, or another --out")
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    progress = progress if accelerator.is_main_process else no_progress
    with accelerator.main_process_first():
        packed_dir = pack_dataset(Path(cfg.dataset), Path(cfg.packed) if cfg.packed else None, progress)
    train_ids, val_ids = split_scenes(len(PackedScenes.open(packed_dir)), cfg.val_scenes)
    if found:
        model = ProxyDiffusionModel.from_pretrained(found[-1][1] / "model")
        scheduler = DDPMScheduler.from_pretrained(found[-1][1] / "model", subfolder="scheduler")
    elif cfg.init_from:
        model, scheduler, folder = initial_model(cfg)
        cfg = replace(cfg, init_from=str(folder.resolve()))  # the record names the weights, not a moving run
    else:
        torch.manual_seed(cfg.seed)  # the initial weights are part of the run
        model = build_model(cfg.config, cfg.sd21_path, cfg.dinov2_path, cfg.evidence)
        scheduler = make_scheduler(model, cfg.prediction_type)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)
    saved = load_optimizer(found[-1][1] / "state", optimizer) if found else {}
    step = int(saved.get("step", 0))
    model, optimizer = accelerator.prepare(model, optimizer)
    if saved.get("scaler") and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(saved["scaler"])
    size, codec = accelerator.unwrap_model(model).image_size, accelerator.unwrap_model(model).codec
    spec = BatchSpec(size, cfg.batch_size, cfg.min_views, cfg.max_views, cfg.hand_crops, cfg.augment, cfg.seed,
                     evidence=bool(accelerator.unwrap_model(model).config.evidence_channels))
    world, rank = accelerator.num_processes, accelerator.process_index
    batches = TrainBatches(packed_dir, train_ids, spec, length=cfg.max_steps * world)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, sampler=range(step * world + rank,
                                                                                 cfg.max_steps * world, world),
                                         num_workers=cfg.workers, persistent_workers=cfg.workers > 0)
    record_cfg = {**asdict(cfg), "world_size": world}
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "train_config.json", json.dumps(record_cfg, indent=1).encode())
        _truncate_log(out / "log.jsonl", step)
    model.train()
    progress("train", step, cfg.max_steps)
    t0, losses, last = time.perf_counter(), [], {}
    for batch in loader:
        step += 1
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        loss = diffusion_loss(model, codec, scheduler, batch, _generator(cfg.seed, step, rank),
                              uv_body_weight=cfg.uv_body_weight)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % cfg.log_every == 0 or step % cfg.val_every == 0 or step == cfg.max_steps:
            last = {"step": step, "loss": float(np.mean(losses)), "lr": optimizer.param_groups[0]["lr"],
                    "seconds_per_step": (time.perf_counter() - t0) / len(losses)}
            if val_ids and (step % cfg.val_every == 0 or step == cfg.max_steps):
                last["val_loss"] = validation_loss(accelerator.unwrap_model(model), scheduler, packed_dir, val_ids,
                                                   spec, cfg.uv_body_weight)
                model.train()
            if accelerator.is_main_process:
                with open(out / "log.jsonl", "a") as f:
                    f.write(json.dumps(last) + "\n")
                progress("train", step, cfg.max_steps)
            t0, losses = time.perf_counter(), []
        if step % cfg.save_every == 0 or step == cfg.max_steps:
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                scaler = accelerator.scaler.state_dict() if accelerator.scaler is not None else None
                save_checkpoint(out, step, accelerator.unwrap_model(model), scheduler, optimizer, record_cfg,
                                scaler=scaler)
    accelerator.wait_for_everyone()
    latest = checkpoints(out)[-1][1] if checkpoints(out) else None
    return {"steps": step, **{k: v for k, v in last.items() if k != "step"},
            "checkpoint": str(latest / "model") if latest else None, "train_scenes": len(train_ids),
            "val_scenes": len(val_ids)}


@torch.no_grad()
def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The learning rate of ``step`` (1-based): a linear warm-up, then constant or a cosine decay
    that reaches 0 at ``max_steps``. A pure function of the step, so a resumed run follows it
    exactly; resuming with a larger ``--max-steps`` stretches the rest of the decay."""
    if step <= cfg.warmup_steps:
        return cfg.lr * step / max(1, cfg.warmup_steps)
    if cfg.lr_schedule == "constant":
        return cfg.lr
    done = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * done))


def validation_loss(model, scheduler, packed_dir: Path, val_ids: list[int], spec: BatchSpec,
                    uv_body_weight: float = 0.0, batches: int = 4) -> float:
    """The loss on held-out scenes at fixed views, noise and timesteps (comparable across steps)."""
    model.eval()
    fixed = BatchSpec(spec.image_size, 1, spec.max_views, spec.max_views, 0, False, spec.seed + 1, spec.evidence)
    data = TrainBatches(packed_dir, val_ids, fixed, length=batches)
    T = scheduler.config.num_train_timesteps
    losses = [diffusion_loss(model, model.codec, scheduler, data[i], _generator(spec.seed, 10**9, i),
                             torch.tensor([int((i + 0.5) / batches * T)]), uv_body_weight).item()
              for i in range(batches)]
    return float(np.mean(losses))


def _truncate_log(path: Path, step: int) -> None:
    """A resumed run rewrites the steps after its checkpoint: drop their old lines (and a
    line cut short by a kill)."""
    if path.is_file():
        keep = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    keep.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
        atomic_write_bytes(path, "".join(ln + "\n" for ln in keep).encode())
