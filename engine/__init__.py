"""DiffProxy engine: body models, cameras, proxies, fitting and the diffusion proxy generator.

Pure PyTorch; never imports bpy, so the engine runs on machines without Blender.
"""

__version__ = "0.1.0"

# The front door (engine.pipeline.job), loaded on first use so that ``import engine`` stays light:
#   result = engine.reconstruct(capture, calibration, frames=..., cameras=..., options=engine.ReconstructOptions())
#   result.save(folder)
#   summary = engine.reconstruct_into(folder, capture, calibration, ...)  # as `diffproxy reconstruct --out`
_FRONT_DOOR = ("reconstruct", "reconstruct_into", "prepare", "ReconstructOptions")


def __getattr__(name: str):
    if name in _FRONT_DOOR:
        from engine.pipeline import job

        return getattr(job, name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


__all__ = ["__version__", *_FRONT_DOOR]
