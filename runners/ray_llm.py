"""`rewrite_llm` on Ray: the requests of a remote (OpenAI-compatible) backend are sent from a pool
of `runner.llm_actors` Ray actors, one request in flight per actor, so the server sees at most
that many at once wherever the actors run. The driver keeps everything else (the request cache,
the order of requests and records, the grounding), so the records are the ones `runner=local`
makes from the same answers. The actors take no CPU from the cluster's budget (`num_cpus=0`):
they wait on the server, and a CPU-free actor cannot hold up another stage's tasks.
"""

from __future__ import annotations

from contextlib import ExitStack

from omegaconf import DictConfig, OmegaConf

from joule.errors import JouleError
from rewriters.llm.backends import Answer, Backend
from runners import positive
from runners.cluster import cluster, worker_usage


def check_remote(backend_cfg: DictConfig) -> None:
    """Refuse, before anything is loaded, a backend that runs in this process (hf)."""
    import hydra.utils

    target = backend_cfg.get("_target_")
    try:
        remote = getattr(hydra.utils.get_class(target), "remote", False)
    except Exception as exc:   # hydra wraps the import error; build_backend names it later
        raise JouleError(f"config key rewrite_llm.backend._target_={target!r} is not a "
                         "backend class") from exc
    if not remote:
        raise JouleError(f"runner=ray sends rewrite_llm's requests to a server from Ray actors; "
                         f"{target} runs in this process: use rewrite_llm/backend=openai, or "
                         "runner=local")


class _Sender:
    """One actor: its own copy of the backend, one request at a time."""

    def __init__(self, backend_cfg: dict):
        import hydra.utils

        self.backend = hydra.utils.instantiate(backend_cfg | {"concurrency": 1}, _convert_="all")

    def one(self, request) -> Answer:
        return self.backend.generate([request])[0]

    def usage(self) -> dict:
        return worker_usage()


class RayBackend(Backend):
    """`generate` through Ray actors; kind, model, energy figures and URL are `inner`'s.

    `backend_cfg` is the `rewrite_llm.backend` config the actors build their client from.
    Errors of a request come back as the JouleError the backend raised (naming the URL)."""

    def __init__(self, inner: Backend, backend_cfg: DictConfig, cfg: DictConfig):
        check_remote(backend_cfg)
        self.kind, self.model, self.remote = inner.kind, inner.model, True
        self.energy, self.base_url = inner.energy, getattr(inner, "base_url", None)
        self.actors = positive(cfg, "llm_actors")
        self._stack = ExitStack()
        runner = OmegaConf.create(OmegaConf.to_container(cfg.runner))
        self.ray = self._stack.enter_context(cluster(runner))
        sender = self.ray.remote(num_cpus=0)(_Sender)
        spec = OmegaConf.to_container(backend_cfg, resolve=True)
        self._inner = inner
        self._actors = [sender.remote(spec) for _ in range(self.actors)]
        self._pool = self.ray.util.ActorPool(list(self._actors))

    def generate(self, requests):
        try:   # ActorPool.map: answers in request order, at most one per actor in flight
            return list(self._pool.map(lambda actor, r: actor.one.remote(r), requests))
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, JouleError):
                raise JouleError(str(cause)) from exc
            raise

    def outside_cpu(self) -> tuple[float, str]:
        """CPU seconds the actors have used so far (each reports its own `getrusage`)."""
        usage = self.ray.get([a.usage.remote() for a in self._actors])
        return sum(u["cpu_s"] for u in usage), f"{self.actors} Ray request actor(s)"

    def close(self) -> None:
        try:
            for actor in self._actors:
                self.ray.kill(actor)
            self._inner.close()
        finally:
            self._stack.close()
