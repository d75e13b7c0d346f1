"""The remote engine: the embedded engine's interface in front of inference servers
(vLLM, SGLang, llama-server) that operators run themselves.

The gateway keeps the model's format: prompts are rendered and tokenized here, sent as
token IDs, and the token IDs that come back are detokenized here, so every backend
yields exactly the tokens and text the output parsers expect. Routing is in
routing.py, bookkeeping in pool.py, one request's life in dispatch.py.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from glmserve.engine.media import MediaPrompt, MediaTokens
from glmserve.engine.remote.dispatch import Dispatch
from glmserve.engine.remote.generation import RemoteGeneration
from glmserve.engine.remote.loop import LoopThread
from glmserve.engine.remote.pool import Pool
from glmserve.engine.remote.replica import Replica, WorkerStats, adapter_for
from glmserve.engine.remote.spec import RemoteSpec
from glmserve.engine.remote.tokenizer import GatewayTokenizer, load_tokenizer
from glmserve.engine.remote.vision import RemoteVision, load_vision
from glmserve.engine.types import (
    Engine,
    EngineBusy,
    EngineInfo,
    EngineStats,
    Generation,
    GenerationRequest,
)

__all__ = ["RemoteEngine"]

log = logging.getLogger(__name__)


class RemoteEngine(Engine):
    supports_grammar = True  # vLLM and SGLang (xgrammar) and llama.cpp all take GBNF

    def __init__(
        self,
        spec: RemoteSpec,
        tokenizer: GatewayTokenizer | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Workers that are down are not an error: they are probed until they answer.

        ``tokenizer`` replaces the one ``spec.tokenizer`` names (and stays the caller's
        to close); ``transport`` replaces the network (tests drive in-process workers
        through it)."""
        self.spec = spec
        self._owns_tokenizer = tokenizer is None
        self._tokenizer = tokenizer or load_tokenizer(spec.tokenizer)
        tok = self._tokenizer
        kinds = sorted({w.kind for w in spec.workers})
        self.info = EngineInfo(
            context_size=spec.context_size,
            trained_context=tok.trained_context or spec.context_size,
            chat_template=tok.chat_template,
            bos_token=tok.bos_token,
            eos_token=tok.eos_token,
            description=f"{tok.description}; {len(spec.workers)} {'/'.join(kinds)} worker(s)",
        )
        self._vision = _vision(spec, tok)
        self.supports_images = self._vision is not None
        self._pool = Pool(spec, transport)
        self._loop = LoopThread("remote-engine")
        self._tasks: set[asyncio.Task[None]] = set()
        self._probes = [self._loop.submit(self._probe_forever(r)) for r in self._pool.replicas]
        self._closed = False

    # -- Engine --

    def tokenize(self, text: str) -> list[int]:
        return self._tokenizer.encode(text)

    def tokenize_media(self, prompt: MediaPrompt) -> MediaTokens:
        """Image tokens counted by the model's processor rule (vision.py); ValueError
        for images the rule refuses."""
        if self._vision is None:
            raise NotImplementedError("this model's workers take no images")
        return self._vision.tokenize(prompt, self._tokenizer.encode)

    def start(self, request: GenerationRequest) -> Generation:
        """Raises EngineBusy when every healthy worker has its max_in_flight requests."""
        caller = asyncio.get_running_loop()
        if self._closed:
            raise EngineBusy("the engine is closed")
        hashes = self._pool.hashes(request.prompt_tokens)
        replica = self._pool.take(hashes)
        gen = RemoteGeneration(caller, self._loop.loop)
        dispatch = Dispatch(
            self._pool,
            gen,
            request,
            replica,
            hashes,
            piece=self._tokenizer.piece,
            stop_ids=self._tokenizer.stop_ids,
            vision=self._vision,
        )
        self._loop.call(self._spawn, dispatch)
        return gen

    def stats(self) -> EngineStats:
        pool = self._pool
        in_flight = pool.in_flight()
        return EngineStats(
            running=in_flight,
            waiting=0,
            finished=pool.finished,
            cancelled=pool.cancelled,
            generated_tokens=pool.generated_tokens,
            prompt_tokens=pool.prompt_tokens,
            cached_tokens=pool.cached_tokens,
            in_flight=in_flight,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.submit(self._shutdown()).result(30)
        finally:
            self._loop.stop()
            if self._owns_tokenizer:
                self._tokenizer.close()

    # -- beyond the interface --

    def worker_stats(self) -> tuple[WorkerStats, ...]:
        """Each worker's health, load and counters (for /metrics and start-up output)."""
        return self._pool.worker_stats()

    def check_health(self, timeout: float = 10.0) -> tuple[WorkerStats, ...]:
        """Probe every worker now (not waiting for the next round); their stats after."""
        self._loop.submit(self._probe_all()).result(timeout)
        return self.worker_stats()

    # -- the engine's loop --

    def _spawn(self, dispatch: Dispatch) -> None:
        task = self._loop.loop.create_task(dispatch.run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe_forever(self, replica: Replica) -> None:
        while True:
            await self._probe(replica)
            await asyncio.sleep(self.spec.health_interval)

    async def _probe_all(self) -> None:
        await asyncio.gather(*(self._probe(r) for r in self._pool.replicas))

    async def _probe(self, replica: Replica) -> None:
        client = replica.open()
        try:
            response = await client.get(
                replica.adapter.health_path, timeout=self.spec.connect_timeout
            )
        except httpx.HTTPError as exc:
            self._pool.probed(replica, False, f"{type(exc).__name__}: {exc}")
            return
        if response.status_code == 200:
            self._pool.probed(replica, True, None)
        else:
            self._pool.probed(replica, False, f"/health answered HTTP {response.status_code}")

    async def _shutdown(self) -> None:
        for probe in self._probes:
            probe.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # each ends its generation as "cancelled"
        await asyncio.gather(*tasks, return_exceptions=True)
        for replica in self._pool.replicas:
            if replica.client is not None:
                await replica.client.aclose()


def _vision(spec: RemoteSpec, tokenizer: GatewayTokenizer) -> RemoteVision | None:
    """The model's vision when it sees and its workers can be sent images; otherwise
    None (media is then refused with 1214), with the reason logged."""
    if not spec.vision:
        return None
    kinds = sorted({w.kind for w in spec.workers if not adapter_for(w.kind).takes_images})
    if kinds:
        log.warning("images are refused: %s workers take no images", ", ".join(kinds))
        return None
    if not spec.tokenizer.is_dir():
        log.warning("images are refused: the tokenizer is not a Hugging Face model folder")
        return None
    try:
        return load_vision(spec.tokenizer, tokenizer.token_id)
    except ValueError as exc:
        log.warning("images are refused: %s", exc)
        return None
