"""DiffProxy engine: body models, cameras, proxies, fitting and the diffusion proxy generator.

Pure PyTorch; never imports bpy, so the engine runs on machines without Blender.
"""

__version__ = "0.1.0"
