"""The diffusion proxy generator: a diffusers UNet denoising the seg and UV proxies of all
views of a scene together (cross-modality and epipolar attention), conditioned on each RGB
view through a T2I-Adapter and image tokens."""
