"""``diffproxy train``: train the proxy denoiser on a rendered dataset (``engine.diffusion.train``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from engine.cli.output import console, error, say
from engine.cli.progress import progress_reporter
from engine.errors import InputError
from engine.io.files import strict_json



def train(
    dataset: Path = typer.Argument(..., help="A dataset folder of rendered scenes (packed once into DATASET/packed)."),
    out: Path = typer.Option(..., "--out", help="Training folder: checkpoint-*/ (diffusers model + state), log.jsonl."),
    config: str = typer.Option("small", help="Model configuration: tiny | small | compact | sd21."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its latest checkpoint, with its settings."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many steps in all (default 10000)."),
    batch_size: int = typer.Option(2, help="Scenes per step and process."),
    lr: float = typer.Option(2e-4, help="AdamW learning rate (after a linear warm-up)."),
    warmup_steps: int = typer.Option(100, help="Steps of the linear learning-rate warm-up."),
    lr_schedule: str = typer.Option("cosine", help="After the warm-up: cosine (decays to 0 at --max-steps) | "
                                                   "constant."),
    prediction_type: Optional[str] = typer.Option(None, help="sample (x0) | epsilon | v_prediction (default: sample; "
                                                             "sd21: the SD folder's)."),
    uv_body_weight: Optional[float] = typer.Option(None, help="Weight of the uv stream's squared error averaged "
                                                              "over the body's pixels only (default: 1; sd21: 0)."),
    min_views: int = typer.Option(1, help="Fewest full-body views of a sample."),
    max_views: int = typer.Option(4, help="Most full-body views of a sample."),
    hand_crops: int = typer.Option(2, help="Most hand crops added to a sample as extra views."),
    augment: bool = typer.Option(True, help="Crop and colour augmentation."),
    evidence: bool = typer.Option(True, help="Condition on MediaPipe's landmarks and mask, found in the renders "
                                             "when packing (--no-evidence: RGB only, the ablation)."),
    val_scenes: int = typer.Option(0, help="Scenes held out for the validation loss (0: 10%)."),
    val_every: int = typer.Option(500, help="Steps between validation losses."),
    save_every: int = typer.Option(500, help="Steps between checkpoints."),
    workers: int = typer.Option(2, help="Data loader worker processes."),
    seed: int = typer.Option(0, help="Seed of the batches and the noise."),
    mixed_precision: str = typer.Option("no", help="no | fp16 | bf16 (GPUs)."),
    sd21: Optional[Path] = typer.Option(None, help="For --config sd21: a local diffusers Stable Diffusion 2.1 folder."),
    dinov2: Optional[Path] = typer.Option(None, help="A local DINOv2 folder (transformers); else a small trained "
                                                     "image encoder."),
    init_from: Optional[Path] = typer.Option(None, help="Fine-tune: start a fresh run from this trained model "
                                                        "(model or training folder) of --config's architecture."),
    packed: Optional[Path] = typer.Option(None, help="Where to pack the dataset for training (a read-only "
                                                     "dataset; default: DATASET/packed)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Train the diffusion proxy generator (accelerate: one CPU or many GPUs, the same command)."""
    from engine.diffusion.train import TrainConfig, resume_config
    from engine.diffusion.train import train as run

    try:
        if resume and not (out / "train_config.json").is_file():
            say(f"--resume: no run in {out} yet; starting a new one")
        if resume and (out / "train_config.json").is_file():
            cfg = resume_config(out, max_steps)
            cfg.packed = str(packed) if packed else cfg.packed
        else:
            cfg = TrainConfig(str(dataset), str(out), config, 10000 if max_steps is None else max_steps, batch_size,
                              lr, warmup_steps=warmup_steps, lr_schedule=lr_schedule, prediction_type=prediction_type,
                              min_views=min_views, max_views=max_views, hand_crops=hand_crops, augment=augment,
                              val_scenes=val_scenes, val_every=val_every, save_every=save_every, workers=workers,
                              seed=seed, mixed_precision=mixed_precision, sd21_path=str(sd21) if sd21 else None,
                              dinov2_path=str(dinov2) if dinov2 else None, uv_body_weight=uv_body_weight,
                              init_from=str(init_from) if init_from else None,
                              packed=str(packed) if packed else None, evidence=evidence)
        other_rank = os.environ.get("RANK", "0") != "0"  # under accelerate launch: one bar, from rank 0
        with progress_reporter("bars", quiet=as_json or other_rank) as bars:
            def progress(stage: str, done: int, total: int) -> None:
                bars(stage, done, total)
                if stage == "train":  # beside the bar, the losses train() has just logged
                    bars.postfix(stage, {k: f"{v:.4f}" for k, v in _last_record(Path(cfg.out)).items()
                                         if k in ("loss", "val_loss")})

            summary = run(cfg, resume=resume, progress=progress)
    except InputError as e:
        error(e)  # paths stay whole
        raise typer.Exit(2)
    except KeyboardInterrupt:
        console.print(f"interrupted: the latest checkpoint in {out} stays; continue with --resume")
        raise typer.Exit(130)
    console.print(f"trained {summary['steps']} steps; model: {summary['checkpoint']}")
    if as_json:
        print(json.dumps(strict_json(summary), allow_nan=False))  # a diverged loss is NaN


def _last_record(out: Path) -> dict:
    """The last line of the run's log.jsonl ({} before the first)."""
    try:
        lines = (out / "log.jsonl").read_text().splitlines()
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def export(
    checkpoint: Path = typer.Argument(..., help="A training folder (its latest checkpoint) or a model folder."),
    out: Path = typer.Option(..., "--out", help="The model folder to write (float16 safetensors, config, schedule, "
                                                "training record)."),
) -> None:
    """Write a trained proxy generator as a model folder to ship or share (float16)."""
    from engine.diffusion.checkpoint import export_model

    try:
        folder = export_model(checkpoint, out)
    except InputError as e:
        error(e)
        raise typer.Exit(2)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    console.print(f"model: {folder} ({size / 2**20:.1f} MiB)")
