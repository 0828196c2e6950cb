"""The measurement behind ``uv_head_width`` (README, proxy generator): train the `small`
model on one fixed batch (4 of scene 0's views, no augmentation) with or without its own UV
output head, and every 50 steps denoise that batch from three noise levels and report the
median UV error on the body's pixels. One torch thread, so both can run side by side.

    .venv/bin/python scripts/uv_head_probe.py DATASET WIDTH [--steps 600] [--lr 1e-3]   (WIDTH 0: none)
"""

import argparse
import time

import torch

from engine.diffusion.codec import decode_views, encode_views, proxy_images
from engine.diffusion.configs import build_model
from engine.diffusion.data import BatchSpec, TrainBatches
from engine.diffusion.packed import pack_dataset
from engine.diffusion.train import batch_cameras, diffusion_loss, make_scheduler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("width", type=int)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("small", uv_head_width=args.width)
    scheduler, S = make_scheduler(model), model.image_size
    batch = TrainBatches(pack_dataset(args.dataset), [0], BatchSpec(S, 1, 4, 4, 0, augment=False), 1)[0]
    x0 = encode_views(model.codec, proxy_images(batch["seg"], batch["uv"]).transpose(1, 2))
    body = (batch["seg"] > 0)[:, :, None].expand(-1, -1, 2, -1, -1)  # (B, V, 2, S, S)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    t0 = time.perf_counter()
    for step in range(args.steps):  # step seeds from 0, warm-up over 50 steps
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1) / 50)
        loss = diffusion_loss(model, model.codec, scheduler, batch, torch.Generator().manual_seed(step))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if (step + 1) % 50 == 0:
            model.eval()
            g, scores = torch.Generator().manual_seed(0), {}
            for t in (20, 400, 999):
                tt = torch.tensor([t])
                with torch.no_grad():
                    noisy = scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), tt)
                    pred = model(noisy, tt, batch["rgb"], batch_cameras(batch, S))
                # the decoded uv images' u and v, in UV units ([-1, 1] spans 2)
                error = (decode_views(model.codec, pred)[:, 1, :, :2] - decode_views(model.codec, x0)[:, 1, :, :2])
                scores[f"uv_error_t{t}"] = round((error.abs() / 2)[body].median().item(), 4)
            model.train()
            print({"step": step + 1, "loss": round(loss.item(), 4), **scores,
                   "seconds": round(time.perf_counter() - t0)}, flush=True)


if __name__ == "__main__":
    main()
