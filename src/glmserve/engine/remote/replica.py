"""One worker as the gateway sees it: its HTTP client, its adapter, its breaker and its
counters (the per-worker series of /metrics, as plain data)."""

from __future__ import annotations

import httpx

from glmserve.engine.remote.health import Breaker
from glmserve.engine.remote.llama_server import LlamaServerAdapter
from glmserve.engine.remote.sglang import SglangAdapter
from glmserve.engine.remote.spec import RemoteSpec, WorkerSpec
from glmserve.engine.remote.vllm import VllmAdapter
from glmserve.engine.remote.wire import Adapter
from glmserve.engine.types import WorkerStats

__all__ = ["Replica", "WorkerStats", "adapter_for"]


def adapter_for(kind: str) -> Adapter:
    adapters: dict[str, type[Adapter]] = {
        "vllm": VllmAdapter,
        "sglang": SglangAdapter,
        "llama-server": LlamaServerAdapter,
    }
    return adapters[kind]()


class Replica:
    def __init__(
        self,
        index: int,
        spec: WorkerSpec,
        remote: RemoteSpec,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.index = index
        self._transport = transport
        self.spec = spec
        self.adapter = adapter_for(spec.kind)
        self.breaker = Breaker(remote.failure_threshold)
        self.in_flight = 0
        self.routed = 0
        self.errors = 0
        self.finished = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.generated_tokens = 0
        self._timeout = httpx.Timeout(
            connect=remote.connect_timeout,
            read=remote.read_timeout,
            write=remote.read_timeout,
            pool=remote.connect_timeout,
        )
        self.client: httpx.AsyncClient | None = None

    def open(self) -> httpx.AsyncClient:
        """The worker's client (one per worker), made on the engine's event loop."""
        if self.client is None:
            headers = {"Authorization": f"Bearer {self.spec.api_key}"} if self.spec.api_key else {}
            self.client = httpx.AsyncClient(
                base_url=self.spec.base_url,
                headers=headers,
                timeout=self._timeout,
                transport=self._transport,
                limits=httpx.Limits(
                    max_connections=self.spec.max_in_flight + 2,
                    max_keepalive_connections=self.spec.max_in_flight + 2,
                ),
            )
        return self.client

    @property
    def available(self) -> bool:
        return self.breaker.routable and self.in_flight < self.spec.max_in_flight

    def stats(self) -> WorkerStats:
        return WorkerStats(
            url=self.spec.base_url,
            kind=self.spec.kind,
            health=self.breaker.state,
            in_flight=self.in_flight,
            max_in_flight=self.spec.max_in_flight,
            routed=self.routed,
            errors=self.errors,
            finished=self.finished,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            generated_tokens=self.generated_tokens,
            readmissions=self.breaker.readmissions,
            last_error=self.breaker.last_error,
        )
