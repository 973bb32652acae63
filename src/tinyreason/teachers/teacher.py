"""``ProviderTeacher``: the base of every API (and local-model) teacher.

A provider's teacher is a small frozen dataclass that names its provider and builds a
:class:`~tinyreason.teachers.base.Provider`; everything else (keys, settings, the cache,
estimates, budgets, the engine, the Dataset) is inherited from here::

    @dataclass(frozen=True)
    class GeminiTeacher(ProviderTeacher):
        name: ClassVar[str] = "gemini"
        api_key_env: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

        def make_provider(self) -> Provider:
            from .gemini import GeminiProvider  # the SDK is imported only when used
            return GeminiProvider(api_key=self.resolve_api_key(), model=self.model, ...)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

from .._async import run_sync
from ..data import as_problems, to_dataset
from ..errors import ConfigError
from ..records import Problem
from .base import Provider, TeacherRequest
from .cache import check_refresh
from .engine import EngineSettings, TeacherEngine
from .keys import endpoint, request_key
from .legacy import adopt_cache, refuse_legacy
from .planning import ANSWER_ALLOWANCE_TOKENS as ANSWER_ALLOWANCE_TOKENS
from .planning import DEFAULT_EXPECTED_OUTPUT_TOKENS as DEFAULT_EXPECTED_OUTPUT_TOKENS
from .planning import DEFAULT_HIGH_OUTPUT_TOKENS as DEFAULT_HIGH_OUTPUT_TOKENS
from .planning import MIN_OBSERVED_REPLIES as MIN_OBSERVED_REPLIES
from .planning import CacheArg, RunPlan, estimate_run, open_cache, plan_run
from .pricing import Estimate, ModelTable, load_models
from .rows import outcome_traces
from .summary import Outcome, RunStopped, RunSummary

if TYPE_CHECKING:
    from datasets import Dataset

    from .batch import BatchRun

logger = logging.getLogger("tinyreason.teachers")

__all__ = ["CacheArg", "ProviderTeacher", "RunStopped", "RunSummary"]


@dataclass(frozen=True)
class ProviderTeacher:
    """A teacher that distils through a provider's API, with caching, limits, retries and costs.

    Subclasses (frozen dataclasses too) set ``name`` (the provider, as in ``models.json``),
    optionally ``api_key_env`` (else the data file's) and ``needs_key``, and implement
    :meth:`make_provider`. They may add fields, extend :meth:`settings` with any field that
    changes the replies, and extend ``_check_fields()`` (call ``super()``, append messages) to
    validate them: every problem is reported at once in one ConfigError.

    Args:
        model: The model; None takes this provider's default from the data file.
        api_key: The API key; None reads it from the provider's environment variable(s). Kept out
            of reprs, the cache, logs, the Dataset and error messages.
        base_url: Another endpoint (a proxy, a compatible server).
        system_prompt: A system prompt for every question.
        temperature: Sampling temperature (None: the provider's default).
        max_output_tokens: Cap on generated tokens (thinking included where the provider counts
            it so). Not part of the cache key: see :meth:`distill`.
        thinking_budget: Cap on thinking tokens, where the provider takes one. Not in the key.
        concurrency: Calls in flight at most.
        requests_per_minute: RPM limit (None: no pacing; 429s are still retried).
        tokens_per_minute: TPM limit (input + output + thinking).
        max_retries: Retries for 429, 5xx, timeouts and dropped connections.
        timeout: Seconds a call may take before it is a (retryable) timeout.
        retry_base_delay: Backoff before the first retry (doubled each time, with full jitter).
        retry_max_delay: The backoff's ceiling.
        prices: Price overrides: ``{model: {"input": .., "output": .., "thinking": ..}}`` in USD
            per 1M tokens, a mapping in ``models.json``'s format, or a JSON file path.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.testing.FakeProviderTeacher(api_key="k-123", concurrency=4)
        >>> teacher  # doctest: +ELLIPSIS
        FakeProviderTeacher(model='fake-reasoner', base_url=None, ...)
        >>> ds = teacher.distill([tr.Problem("p1", "What is 6 * 7?")], cache=False, progress=False)
        >>> ds[0]["teacher"], ds[0]["error"], teacher.last_summary.requests
        ('fake-api', None, 1)
    """

    name: ClassVar[str] = ""
    #: Environment variables holding the key, tried in order (empty: take the data file's).
    api_key_env: ClassVar[tuple[str, ...]] = ()
    #: False for teachers that need no key (a local model).
    needs_key: ClassVar[bool] = True
    #: Settings that bound the output's length: left out of the cache key, so that raising them
    #: and passing ``refresh=("truncated",)`` re-asks only the truncated replies.
    budget_settings: ClassVar[frozenset[str]] = frozenset({"max_output_tokens", "thinking_budget"})

    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    thinking_budget: int | None = None
    concurrency: int = 16
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_retries: int = 6
    timeout: float = 600.0
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    prices: Mapping[str, Any] | str | Path | None = field(default=None, repr=False, hash=False)
    last_summary: RunSummary | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    # -- construction --------------------------------------------------------------------------

    def __post_init__(self) -> None:
        if isinstance(self.model, os.PathLike):  # a local model's folder
            object.__setattr__(self, "model", os.fspath(self.model))
        models = load_models(self.prices)
        object.__setattr__(self, "_models", models)
        problems = self._check_fields()
        if self.model is None:
            default = models.provider(self.name).default_model
            if default is None:
                problems.append(
                    f"{type(self).__name__} has no default model: pass model=... (the model's "
                    "name as the provider spells it)."
                )
            object.__setattr__(self, "model", default)
        if problems:
            raise ConfigError(problems)
        models.warn_if_unpriced(self.name, self.model, stacklevel=3)  # type: ignore[arg-type]

    def _check_fields(self) -> list[str]:
        problems = []
        if not self.name:
            problems.append(f"{type(self).__name__} must set the class attribute name.")
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            problems.append(f"model must be a non-empty string or None, got {self.model!r}")

        def check(name: str, low: float, whole: bool = False, optional: bool = True) -> None:
            value = getattr(self, name)
            if value is None and optional:
                return
            bad = isinstance(value, bool) or not isinstance(value, (int, float))
            bad = bad or (whole and not isinstance(value, int)) or not math.isfinite(value)
            if bad or value < low:
                kind = "a whole number" if whole else "a number"
                problems.append(f"{name} must be {kind} >= {low:g}, got {value!r}")

        check("temperature", 0)
        check("max_output_tokens", 1, whole=True)
        check("thinking_budget", 0, whole=True)
        check("concurrency", 1, whole=True, optional=False)
        check("requests_per_minute", 1e-9)
        check("tokens_per_minute", 1e-9)
        check("max_retries", 0, whole=True, optional=False)
        check("timeout", 1e-9, optional=False)
        check("retry_base_delay", 0, optional=False)
        check("retry_max_delay", 0, optional=False)
        return problems

    # -- what subclasses provide ---------------------------------------------------------------

    def make_provider(self) -> Provider:
        """Build the provider that makes the calls (called once per run, inside its loop)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_provider() -> Provider"
        )

    def make_batch_backend(self) -> Any:
        """The provider's batch API (:class:`~tinyreason.teachers.batch.BatchBackend`).

        Raises:
            ConfigError: this teacher has no batch API (the default), before anything is sent.
        """
        raise ConfigError(
            f"{type(self).__name__} ({self.name}) has no batch API: distil without batch=True "
            "(the OpenAI-compatible teacher against OpenAI's /v1/batches has one)."
        )

    def settings(self) -> dict[str, Any]:
        """The settings that change the replies (they go into each request and its cache key).

        Unset (None) settings are left out, so adding an optional setting later does not change
        existing keys. Concurrency, limits, retries, timeouts and the key never belong here.

        Example:
            >>> import tinyreason as tr
            >>> tr.testing.FakeProviderTeacher(temperature=0.6, concurrency=64).settings()
            {'temperature': 0.6}
        """
        values = {
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "thinking_budget": self.thinking_budget,
        }
        return {k: v for k, v in values.items() if v is not None}

    # -- keys ----------------------------------------------------------------------------------

    @property
    def models(self) -> ModelTable:
        """The data file with this teacher's price overrides."""
        return self._models  # type: ignore[attr-defined,no-any-return]

    def key_env_vars(self) -> tuple[str, ...]:
        """The environment variables the key is read from, in order."""
        return self.api_key_env or self.models.provider(self.name).api_key_env

    def resolve_api_key(self) -> str | None:
        """The API key: ``api_key=``, else the first set environment variable.

        Raises:
            ConfigError: a key is needed and none is set (the message names the variables).
        """
        if self.api_key is not None:
            if not isinstance(self.api_key, str) or not self.api_key.strip():
                raise ConfigError(f"{type(self).__name__}(api_key=...) is empty.")
            return self.api_key
        for var in self.key_env_vars():
            value = os.environ.get(var, "").strip()
            if value:
                return value
        if not self.needs_key:
            return None
        names = self.key_env_vars()
        where = (
            f"set {' or '.join('$' + n for n in names)} (e.g. export {names[0]}=...)"
            if names
            else "pass api_key=..."
        )
        raise ConfigError(
            f"{type(self).__name__} needs an API key for {self.name}: {where}, or pass "
            "api_key=... when you build the teacher."
        )

    def _key_hint(self) -> str:
        if self.api_key is not None:
            return f"Check the api_key= given to {type(self).__name__}."
        for var in self.key_env_vars():
            if os.environ.get(var, "").strip():
                return f"Check ${var} (it is the key that was used), or pass api_key=...."
        return "Check the API key."

    # -- requests ------------------------------------------------------------------------------

    def requests(self, problems: Sequence[Problem]) -> list[tuple[str, TeacherRequest]]:
        """One ``(cache_key, request)`` per problem, in order."""
        settings = self.settings()
        pairs = []
        for p in problems:
            request = TeacherRequest(p.id, p.question, self.model, self.system_prompt, settings)  # type: ignore[arg-type]
            pairs.append((self.cache_key(request), request))
        return pairs

    def endpoint(self) -> str:
        """The server asked, as the cache keys name it: ``base_url`` without credentials.

        ``""`` is the provider's default endpoint (no ``base_url``). See :mod:`~.keys`.

        Example:
            >>> import tinyreason as tr
            >>> tr.testing.FakeProviderTeacher(base_url="http://u:pw@box:8000/v1/").endpoint()
            'http://box:8000/v1'
        """
        return endpoint(self.base_url)

    def cache_key(self, request: TeacherRequest) -> str:
        """The request's cache key: provider, server, model, messages, settings (no budgets).

        See :func:`~.keys.request_key`; the output budgets (:attr:`budget_settings`) are left out.
        """
        return request_key(self.name, self.endpoint(), request, exclude=self.budget_settings)

    def adopt_legacy_replies(self, cache: CacheArg) -> int:
        """Keep an older tinyreason's cached replies of this provider and model, as this teacher's.

        Caches written before the server's URL was in the keys (schema 1) cannot say which
        server a reply came from, so a run that would ask one of their questions stops instead of
        using them or paying again. Call this when you know they came from this teacher's server;
        no call is made. Returns how many were adopted.

        Example:
            >>> import tinyreason as tr
            >>> tr.testing.FakeProviderTeacher().adopt_legacy_replies(False)
            0
        """
        return adopt_cache(self, cache)

    # -- estimate ------------------------------------------------------------------------------

    def estimate(
        self,
        problems: Any,
        *,
        cache: CacheArg = None,
        refresh: Any = (),
        expected_output_tokens: int | None = None,
    ) -> Estimate:
        """What distilling ``problems`` would cost: tokens and dollars, low / expected / high.

        Questions already in the cache cost nothing (an existing cache is read, never created).

        Args:
            problems: A Dataset, a list of :class:`~tinyreason.Problem` or row dicts.
            cache: The cache :meth:`distill` would use.
            refresh: As in :meth:`distill`: cached entries that would be asked again.
            expected_output_tokens: Output + thinking tokens per call for "expected"; default:
                the mean of this model's cached replies, else 4,000 (capped by
                ``max_output_tokens``).

        Example:
            >>> import tinyreason as tr
            >>> teacher = tr.testing.FakeProviderTeacher(max_output_tokens=1000)
            >>> e = teacher.estimate([tr.Problem("p1", "What is 6 * 7?")], cache=False)
            >>> e.to_call, e.tokens_high, e.usd_high
            (1, 1012, 0.002012)
        """
        items = as_problems(problems)
        pairs = self.requests(items)
        store, owned = open_cache(cache, create=False)
        try:
            return estimate_run(
                self, items, pairs, store, check_refresh(refresh), expected_output_tokens
            )
        finally:
            if owned and store is not None:
                store.close()

    # -- distil --------------------------------------------------------------------------------

    @overload
    def distill(
        self,
        problems: Any,
        *,
        cache: CacheArg = None,
        max_cost_usd: float | None = None,
        refresh: Any = (),
        progress: bool = True,
        batch: bool = False,
        wait: Literal[True] = True,
    ) -> Dataset: ...

    @overload
    def distill(
        self,
        problems: Any,
        *,
        cache: CacheArg = None,
        max_cost_usd: float | None = None,
        refresh: Any = (),
        progress: bool = True,
        batch: Literal[True],
        wait: Literal[False],
    ) -> BatchRun: ...

    def distill(
        self,
        problems: Any,
        *,
        cache: CacheArg = None,
        max_cost_usd: float | None = None,
        refresh: Any = (),
        progress: bool = True,
        batch: bool = False,
        wait: bool = True,
    ) -> Dataset | BatchRun:
        """Ask the teacher every problem; one trace row per problem (failures included).

        Works in scripts and in Jupyter (where an event loop already runs: the run then happens
        in a helper thread). Inside your own async code, ``await`` :meth:`adistill` instead.

        Args:
            problems: A Dataset, a list of :class:`~tinyreason.Problem` or row dicts.
            cache: Where replies are kept: a file path; None (default) for the shared file
                :func:`~tinyreason.teachers.cache.default_cache_path` (``$TINYREASON_CACHE``);
                a :class:`ReplyCache`; or False for a temporary one deleted afterwards. Re-running
                makes no request for what is cached; a killed run resumes where it stopped.
            max_cost_usd: Stop starting calls once this much (new spend, in USD) would be passed;
                the rest get ``error="budget: ..."`` and a re-run with a higher cap resumes them.
            refresh: Ask these cached entries again: ``"truncated"``, ``"failed"``, a failure
                reason (``"timeout"``, ``"safety"``...) or ``"all"``. The output budgets are not
                in the cache key, so raising ``max_output_tokens`` with ``refresh=("truncated",)``
                re-asks only the truncated replies.
            progress: Show a progress bar with the spend so far and the projected total, then the
                run summary.
            batch: Ask through the provider's batch API at half price (see
                :mod:`~tinyreason.teachers.batch`): crash-safe, resumable, never paid twice.
                Teachers without one raise ConfigError before anything is sent. ``cache`` must
                be a file; ``max_cost_usd`` applies before submission, at batch prices.
            wait: With ``batch=True``: False returns a :class:`~tinyreason.teachers.batch.BatchRun`
                at once (``status()``, ``collect()``, ``cancel()``) instead of the Dataset.

        Returns:
            A Dataset in the s1K schema plus the teacher columns; identical questions are asked
            once and share their reply. :attr:`last_summary` holds the :class:`RunSummary`.
            With ``batch=True, wait=False``: a ``BatchRun``.

        Raises:
            DataError: no problems, or a problem without a question.
            ConfigError: a missing key (naming its variable), a bad ``refresh``, a cap without a
                price, or a cap below the least the run can cost.
            RunStopped: the key was rejected (or the provider failed unexpectedly) mid-run; what
                finished is saved in the cache.
        """
        if batch:
            from .batch import start_batch  # only batch runs need it

            return start_batch(
                self,
                problems,
                cache=cache,
                max_cost_usd=max_cost_usd,
                refresh=refresh,
                progress=progress,
                wait=wait,
            )
        with plan_run(self, problems, cache, max_cost_usd, refresh) as plan:
            return self._dataset(plan, run_sync(lambda: self._execute(plan, progress)), progress)

    async def adistill(
        self,
        problems: Any,
        *,
        cache: CacheArg = None,
        max_cost_usd: float | None = None,
        refresh: Any = (),
        progress: bool = True,
    ) -> Dataset:
        """:meth:`distill` for async code: ``ds = await teacher.adistill(problems)``."""
        with plan_run(self, problems, cache, max_cost_usd, refresh) as plan:
            return self._dataset(plan, await self._execute(plan, progress), progress)

    async def _execute(self, plan: RunPlan, progress: bool) -> dict[str, Outcome]:
        engine = TeacherEngine(
            None,  # built by the engine only if a question is not cached: make_provider
            provider_name=self.name,
            model=self.model,  # type: ignore[arg-type]
            cache=plan.cache,
            settings=EngineSettings(
                concurrency=self.concurrency,
                requests_per_minute=self.requests_per_minute,
                tokens_per_minute=self.tokens_per_minute,
                max_retries=self.max_retries,
                timeout=self.timeout,
                retry_base_delay=self.retry_base_delay,
                retry_max_delay=self.retry_max_delay,
                expected_output_tokens=plan.expected_output_tokens,
                max_output_tokens=self.max_output_tokens,
            ),
            price=plan.price,
            max_cost_usd=plan.max_cost_usd,
            secrets=[plan.api_key] if plan.api_key else [],
            key_hint=self._key_hint(),
            progress=progress,
            endpoint=self.endpoint(),
            before_calls=lambda asked: refuse_legacy(self, plan.cache, asked),
            make_provider=self.make_provider,
        )
        try:
            return await engine.run(plan.pairs, refresh=plan.refresh)
        finally:
            object.__setattr__(self, "last_summary", engine.summary)
            try:
                if engine.provider is not None:
                    await engine.provider.aclose()
            except Exception as exc:  # closing must not hide the run's result or error
                logger.warning(
                    "%s: closing the provider failed (%s)", self.name, type(exc).__name__
                )

    def _dataset(self, plan: RunPlan, outcomes: Mapping[str, Outcome], progress: bool) -> Dataset:
        traces = outcome_traces(
            plan.problems,
            plan.pairs,
            outcomes,
            teacher=self.name,
            model=self.model,  # type: ignore[arg-type]
            default_kind=self.models.thinking_kind(self.name, self.model),  # type: ignore[arg-type]
            price=plan.price,
        )
        dataset = to_dataset(plan.problems, traces)
        if progress and self.last_summary is not None:
            from tqdm.auto import tqdm

            tqdm.write(str(self.last_summary))
        return dataset
