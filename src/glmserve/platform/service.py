"""The platform around the model, assembled from the settings: one object the
application owns (keys and auth, admission, ledger, async tasks, files and batches on
one repository)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from glmserve.config import PlatformSettings
from glmserve.platform.admission import Admission
from glmserve.platform.auth import Authenticator, KeyAuthenticator, OpenAuthenticator
from glmserve.platform.batches import Batches, LineRunner
from glmserve.platform.files import Files
from glmserve.platform.filestore import open_object_store
from glmserve.platform.keys import KeyService, load_master_key
from glmserve.platform.limits import Limiter, LocalLimiter
from glmserve.platform.plan_counter import LocalPlanCounter, PlanCounter
from glmserve.platform.plans import Plans
from glmserve.platform.tasks import AsyncTasks, TaskRunner
from glmserve.platform.usage import Ledger
from glmserve.store import Repository, StoreError, default_database_url, open_repository

__all__ = ["Platform", "data_dir", "open_store"]


def data_dir(settings: PlatformSettings) -> Path:
    return settings.data_dir or Path(user_data_dir("glmserve", appauthor=False))


def open_store(settings: PlatformSettings) -> Repository:
    return open_repository(settings.database_url or default_database_url(data_dir(settings)))


@dataclass
class Platform:
    settings: PlatformSettings
    repository: Repository
    keys: KeyService
    auth: Authenticator
    ledger: Ledger
    admission: Admission
    tasks: AsyncTasks
    files: Files
    batches: Batches
    plans: Plans

    @classmethod
    def open(
        cls,
        settings: PlatformSettings,
        repository: Repository,
        runner: TaskRunner,
        lines: LineRunner,
    ) -> Platform:
        master = load_master_key(settings.secret_key, data_dir(settings))
        keys = KeyService(repository, master, settings.plans.names)
        auth: Authenticator = (
            OpenAuthenticator()
            if settings.open_access
            else KeyAuthenticator(keys, max_lifetime_seconds=settings.jwt_max_lifetime_seconds)
        )
        ledger = Ledger(repository)
        limiter: Limiter
        if settings.redis_url:
            from glmserve.platform.redis_limits import RedisLimiter

            _check_redis(settings.redis_url)
            limiter = RedisLimiter(settings.redis_url, settings.limits.lease_seconds)
        else:
            limiter = LocalLimiter()
        counter: PlanCounter
        if settings.redis_url:
            from glmserve.platform.redis_plans import RedisPlanCounter

            counter = RedisPlanCounter(settings.redis_url)
        else:
            counter = LocalPlanCounter()
        plans = Plans(settings.plans, counter)
        admission = Admission(limiter, settings.limits, ledger, plans)
        tasks = AsyncTasks(
            repository,
            runner,
            admission,
            workers=settings.task_workers,
            retention_seconds=settings.task_retention_seconds,
            max_queued_per_key=settings.max_queued_tasks_per_key,
            open_access=settings.open_access,
        )
        store = open_object_store(settings.files, data_dir(settings))
        files = Files(repository, store, settings.files)
        batches = Batches(repository, files, lines, ledger, settings.batches)
        return cls(
            settings, repository, keys, auth, ledger, admission, tasks, files, batches, plans
        )

    async def start(self) -> None:
        await self.admission.start()
        await self.tasks.start()
        await self.batches.start()

    async def stop(self) -> None:
        """Graceful: running async tasks and batches go back to the queue; every
        record is written."""
        await self.batches.stop()
        await self.tasks.stop()
        await self.admission.stop()

    def close(self) -> None:
        self.files.close()
        self.repository.close()


def _check_redis(url: str) -> None:
    """Fail at start-up, with a clear message, rather than on the first request."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as exc:
        raise StoreError(f"cannot reach Redis at {url}: {exc}") from None
