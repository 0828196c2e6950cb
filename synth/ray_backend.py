"""The Ray backend: one actor per worker, each with its own body model and Blender worker.

``ray_address`` None starts a local Ray (as the tests do); "auto" or "ray://host:port"
joins a cluster, where every node needs this package, bpy (or a Blender binary) and access
to the output folder (a shared file system).
"""

from __future__ import annotations

from collections.abc import Callable


def run_ray(todo: list[int], new_renderer: Callable[[], object], workers: int, threads: int,
            ray_address: str | None):
    """Render scenes ``todo`` on ``workers`` actors; yields each one's result as it comes.
    ``new_renderer`` makes an actor's renderer (``synth.dataset.SceneRenderer`` with its
    arguments bound: ``dataset.py`` passes it, so this module does not import it back)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False,
                 num_cpus=None if ray_address else workers * threads)

    @ray.remote(num_cpus=threads)
    class RenderActor:
        def __init__(self):
            self.renderer = new_renderer()

        def render(self, index: int) -> dict:
            return self.renderer.render(index)

        def close(self) -> None:
            self.renderer.close()

    actors = [RenderActor.remote() for _ in range(min(workers, len(todo)))]
    try:
        pending = {actors[k % len(actors)].render.remote(i): i for k, i in enumerate(todo)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                yield ray.get(ref)
        ray.get([a.close.remote() for a in actors])
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()
