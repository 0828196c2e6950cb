"""The measurements behind the `small` model's output heads and UV coordinates (README, proxy
generator): train `small` on one fixed batch (4 of scene 0's views, no augmentation) with a
given seg head, UV head and UV coordinates, and every 50 steps denoise that batch from
several noise levels: seg mIoU of the decoded parts (t = 100 / 500 / 900) and, on the body's
pixels, the median distance between the surface point that the decoded (true part, u, v)
names and the true one, on the body in its rest pose (mm; t = 20 / 400 / 999), with the
share of pixels whose (part, u, v) names a point at all. One torch thread, so two variants
can run side by side on two cores.

    .venv/bin/python scripts/head_probe.py DATASET [--seg-head parts|palette] [--uv-head-width 192]
        [--rest-body anny|none] [--steps 600] [--lr 1e-3] [--uv-body-weight 0]
        (--uv-head-width 0: no UV head; palette: none. --rest-body none: atlas (u, v))
"""

import argparse
import time

import torch

from engine.diffusion.codec import decode_proxy_images, decode_uv_image, decode_views, encode_views, proxy_images
from engine.diffusion.configs import build_model
from engine.diffusion.data import BatchSpec, TrainBatches
from engine.diffusion.packed import pack_dataset
from engine.diffusion.train import batch_cameras, diffusion_loss, make_scheduler
from engine.proxy.quality import seg_miou
from engine.proxy.rest_coords import rest_coords_for


def denoised(model, scheduler, x0, batch, t: int, generator: torch.Generator) -> torch.Tensor:
    """The batch noised to ``t`` and denoised in one step: decoded images (B, V, 2, 3, S, S)."""
    tt = torch.tensor([t])
    with torch.no_grad():
        noisy = scheduler.add_noise(x0, torch.randn(x0.shape, generator=generator), tt)
        pred = model(noisy, tt, batch["rgb"], batch_cameras(batch, model.image_size))
    return decode_views(model.codec, pred).clamp(-1, 1).transpose(1, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--seg-head", choices=("parts", "palette"), default="parts")
    ap.add_argument("--uv-head-width", type=int, default=None, help="default: the small configuration's")
    ap.add_argument("--rest-body", default="anny", help="the body whose rest coordinates the uv stream holds; "
                    "none: atlas (u, v)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--uv-body-weight", type=float, default=0.0, help="the training loss's uv-on-the-body term")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    heads = {"seg_head": args.seg_head, **({} if args.uv_head_width is None else {"uv_head_width": args.uv_head_width})}
    model = build_model("small", rest_body=None if args.rest_body == "none" else args.rest_body, **heads)
    scheduler, S = make_scheduler(model), model.image_size
    batch = TrainBatches(pack_dataset(args.dataset), [0], BatchSpec(S, 1, 4, 4, augment=False), 1)[0]
    x0 = encode_views(model.codec, proxy_images(batch["seg"], batch["uv"], model.codec.rest).transpose(1, 2))
    rest = rest_coords_for("anny" if args.rest_body == "none" else args.rest_body)
    body = batch["seg"] > 0
    truth, truth_ok = rest.points(batch["seg"][body].long(), batch["uv"][body])
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    t0 = time.perf_counter()
    for step in range(args.steps):  # step seeds from 0, warm-up over 50 steps
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1) / 50)
        loss = diffusion_loss(model, model.codec, scheduler, batch, torch.Generator().manual_seed(step),
                              uv_body_weight=args.uv_body_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if (step + 1) % 50 == 0:
            model.eval()
            scores, g = {}, torch.Generator().manual_seed(0)
            for t in (100, 500, 900):
                seg, _ = decode_proxy_images(denoised(model, scheduler, x0, batch, t, g))
                scores[f"miou_t{t}"] = round(seg_miou(seg, batch["seg"]), 3)
            g = torch.Generator().manual_seed(0)
            for t in (20, 400, 999):  # the true parts with the predicted uv stream
                uv_img = denoised(model, scheduler, x0, batch, t, g)[..., 1, :, :, :]
                uv = decode_uv_image(batch["seg"], uv_img, model.codec.rest)
                points, ok = rest.points(batch["seg"][body].long(), uv[body])
                ok &= truth_ok
                error = (points - truth)[ok].norm(dim=-1).median().item() * 1000
                scores[f"surface_mm_t{t}"] = (round(error, 1), round(ok.float().mean().item(), 2))
            model.train()
            print({"step": step + 1, "loss": round(loss.item(), 4), **scores,
                   "seconds": round(time.perf_counter() - t0)}, flush=True)


if __name__ == "__main__":
    main()
