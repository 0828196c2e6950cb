"""Multi-view attention for the UNet's self-attention layers, installed with diffusers'
``set_attn_processor``: the tokens of both modalities of all views of a scene attend
jointly, under the epipolar / cross-modality mask of ``views.ViewBatch``, and every token
first gets its Plücker ray embedding added (a zero-initialised projection, so a pretrained
UNet starts out unchanged)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.diffusion.views import ViewBatch


class CurrentViews:
    """The views of the batch being denoised, shared by all processors of one model."""

    def __init__(self):
        self.batch: ViewBatch | None = None


class MultiViewAttnProcessor(torch.nn.Module):
    def __init__(self, hidden_size: int, current: CurrentViews):
        super().__init__()
        self.ray_proj = torch.nn.Linear(6, hidden_size)
        torch.nn.init.zeros_(self.ray_proj.weight)
        torch.nn.init.zeros_(self.ray_proj.bias)
        self._current = [current]  # a list: not a submodule, not in the state dict

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None,
                 temb=None, *args, **kwargs) -> torch.Tensor:
        views = self._current[0].batch
        if views is None:
            raise RuntimeError("multi-view attention called without views (set ProxyDiffusionModel inputs)")
        if encoder_hidden_states is not None or hidden_states.ndim != 3:
            raise ValueError("MultiViewAttnProcessor replaces self-attention on (N, tokens, C) inputs only")
        N, L, C = hidden_states.shape
        B = views.num_scenes
        T = N // B * L  # tokens per scene: 2 modalities x V views x L cells
        x = hidden_states.reshape(B, T, C)
        x = x + self.ray_proj(views.rays(L, x.device, x.dtype))
        q, k, v = attn.to_q(x), attn.to_k(x), attn.to_v(hidden_states.reshape(B, T, C))
        heads = attn.heads
        q, k, v = (t.reshape(B, T, heads, -1).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=views.attention_mask(L, x.device, x.dtype))
        out = out.transpose(1, 2).reshape(N, L, -1)
        out = attn.to_out[1](attn.to_out[0](out))
        return out / attn.rescale_output_factor
