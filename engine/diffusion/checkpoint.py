"""Training checkpoints, safetensors and JSON only (no pickle):

```
CKPT/
  train_config.json          the run's settings (what --resume reuses)
  log.jsonl                  one line per logged step: step, loss, lr, seconds; val_loss
  checkpoint-000200/
    model/                   a diffusers folder: config.json, diffusion_pytorch_model.safetensors,
                             scheduler/scheduler_config.json, train_config.json
    state/                   optimizer.safetensors (AdamW moments) + state.json (step, groups)
```

A checkpoint folder is written beside its final name and renamed into place, so an
interrupted save leaves the previous checkpoint as the latest; the oldest are pruned.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from engine.errors import InputError
from engine.io.files import atomic_folder, read_json

_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``out``, oldest first."""
    found = [(int(m.group(1)), p) for p in Path(out).glob("checkpoint-*") if (m := _NAME.match(p.name))]
    return sorted(found)


SHIPPED_MODEL = Path(__file__).parent / "data" / "proxy_small"  # the trained generator the package ships


def default_checkpoint(path: Path | None, what: str = "--checkpoint") -> Path:
    """``path`` (checked: a model folder or a training folder), or the shipped model when none is given."""
    if path is not None:
        resolve_model_folder(Path(path), what)
        return Path(path)
    if not (SHIPPED_MODEL / "config.json").is_file():
        raise InputError(f"{what}: none given, and no trained model ships in {SHIPPED_MODEL}: pass a folder "
                         "`diffproxy train` wrote")
    return SHIPPED_MODEL


def resolve_model_folder(path: Path, what: str = "--checkpoint") -> Path:
    """A diffusers model folder, or a training folder (its latest checkpoint's model);
    ``what`` names the option in the error."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what}: {path}: no such folder")
    if not path.is_dir():
        raise InputError(f"{what}: {path} is a file; expected a model folder (config.json + weights) or a training "
                         f"folder (checkpoint-*)")
    if (path / "config.json").is_file():
        return path
    if (path / "model" / "config.json").is_file():
        return path / "model"
    found = checkpoints(path)
    if not found:
        raise InputError(f"{what}: {path} holds no model (config.json) and no checkpoint-* folder")
    return found[-1][1] / "model"


def save_checkpoint(out: Path, step: int, model, scheduler, optimizer: torch.optim.Optimizer,
                    train_config: dict, keep: int = 2, scaler: dict | None = None) -> Path:
    """``scaler``: the mixed-precision loss scaler's state (fp16), kept with the optimizer's."""
    final = Path(out) / f"checkpoint-{step:06d}"
    with atomic_folder(final) as tmp:
        model.save_pretrained(tmp / "model")
        scheduler.save_pretrained(tmp / "model" / "scheduler")
        (tmp / "model" / "train_config.json").write_text(json.dumps(train_config, indent=1))
        _save_optimizer(tmp / "state", optimizer, step, scaler)
    for _, old in checkpoints(out)[:-keep]:
        shutil.rmtree(old)
    return final


def _save_optimizer(folder: Path, optimizer: torch.optim.Optimizer, step: int, scaler: dict | None) -> None:
    folder.mkdir(parents=True)
    sd = optimizer.state_dict()
    tensors = {f"{i}.{k}": v.detach().cpu().contiguous() for i, st in sd["state"].items() for k, v in st.items()}
    save_file(tensors, folder / "optimizer.safetensors")
    (folder / "state.json").write_text(json.dumps({"step": step, "param_groups": sd["param_groups"],
                                                   "scaler": scaler}, indent=1))


def load_optimizer(folder: Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restore the optimizer's state from ``folder``; returns ``state.json`` (step, scaler)."""
    meta = read_json(folder / "state.json", missing=f"{folder / 'state.json'}: missing (an incomplete checkpoint)")
    path = folder / "optimizer.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: missing (an incomplete checkpoint)")
    tensors = load_file(path)
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = value
    groups = meta["param_groups"]
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in optimizer.param_groups]:
        raise InputError(f"{folder}: the optimizer state holds other parameters than this model trains")
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return meta


def export_model(src: Path, dst: Path) -> Path:
    """A trained model (model or training folder: its latest checkpoint) as the folder the
    package ships: float16 safetensors, config, noise schedule, and the run's
    ``train_config.json`` and ``log.jsonl`` as its training record (and the card of a model
    already in ``dst``). Written beside ``dst`` and renamed into place."""
    from engine.diffusion.model import ProxyDiffusionModel

    folder = resolve_model_folder(Path(src), "export")
    run = folder.parent.parent  # CKPT/checkpoint-N/model -> CKPT
    model = ProxyDiffusionModel.from_pretrained(folder, torch_dtype=torch.float32)
    with atomic_folder(Path(dst)) as tmp:
        model.to(torch.float16).save_pretrained(tmp)
        shutil.copytree(folder / "scheduler", tmp / "scheduler")
        for name in ("train_config.json", "log.jsonl"):
            if (run / name).is_file():
                shutil.copy2(run / name, tmp / name)
        (tmp / "source.json").write_text(json.dumps({"checkpoint": folder.parent.name}, indent=1))
        if (Path(dst) / "MODEL_CARD.md").is_file():  # a re-export keeps the card written by hand
            shutil.copy2(Path(dst) / "MODEL_CARD.md", tmp / "MODEL_CARD.md")
    return Path(dst)
