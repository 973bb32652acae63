"""The ``local`` provider: a ``transformers`` model on this machine as the teacher.

It generates through :class:`~tinyreason.scaling.TransformersBackend`, the backend the test-time
scalers use, so prompts, think delimiters and thinking budgets mean the same thing when a model
teaches as when it is evaluated. Generation runs in a worker thread (the event loop stays free for
the engine) and one call at a time (a model is not safe to share between threads, and two
concurrent ``generate`` calls on one CPU or GPU would only compete).

torch and transformers are imported on the first call, never by ``import tinyreason``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..interfaces import Backend, HasTokenizer, StudentFormat
from ..records import Usage
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .messages import renamed, text_reply
from .teacher import ProviderTeacher

if TYPE_CHECKING:
    from typing import TypeGuard

    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["LocalProvider", "LocalTeacher"]

#: Tokens per reply when a request sets no ``max_tokens``.
DEFAULT_MAX_NEW_TOKENS = 4096


class _ReadyBackend(Backend, HasTokenizer, Protocol):
    """A backend that shows its tokenizer: the teacher renders prompts and counts with it."""


class LocalProvider:
    """Answers requests with a local causal LM, one at a time, in a worker thread.

    Args:
        model: A model folder or hub name, a loaded ``PreTrainedModel``, or a ready backend (any
            object with ``prompt``, ``generate``, ``format`` and ``tokenizer``, such as a
            :class:`~tinyreason.scaling.TransformersBackend`).
        tokenizer: The tokenizer, or where to load it from; None: the model's own.
        format: The student format whose delimiters the model thinks between (``"think-tags"``:
            ``<think>...</think>``, as R1-style open models do).
        device: Where to run (``"cpu"``, ``"cuda"``); None: CUDA when there is one.
        dtype: ``"bfloat16"``, ``"float32"``, ``"auto"``...; None keeps the default.

    Settings read from each request (all optional): ``temperature`` (0: greedy), ``top_p``,
    ``max_output_tokens`` (new tokens, thinking and answer together; default 4,096),
    ``thinking_budget`` (thinking tokens at most; then the end of thinking is forced, as budget
    forcing does), ``seed``.

    Example:
        >>> import asyncio
        >>> import tinyreason as tr
        >>> provider = LocalProvider(tr.testing.tiny_model())  # doctest: +SKIP
        >>> request = TeacherRequest("p1", "What is 6 * 7?", "tiny", settings={"max_tokens": 8})
        >>> asyncio.run(provider.complete(request)).thinking_kind  # doctest: +SKIP
        'raw'
    """

    name = "local"
    thinking_kind = "raw"

    def __init__(
        self,
        model: str | Path | PreTrainedModel | _ReadyBackend,
        *,
        tokenizer: str | Path | PreTrainedTokenizerBase | None = None,
        format: str | StudentFormat = "think-tags",
        device: str | None = None,
        dtype: str | None = None,
    ):
        self._source, self._tokenizer, self._format = model, tokenizer, format
        self._device, self._dtype = device, dtype
        self._backend: _ReadyBackend | None = model if _is_backend(model) else None
        # Serialises model calls: worker threads queue here, one generate() at a time.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalProvider(name={self.name!r}, model={self.model_name!r})"

    @property
    def model_name(self) -> str:
        """The model's name or path, as recorded in traces."""
        source = self._source
        if isinstance(source, (str, Path)):
            return str(source)
        inner = getattr(source, "model", source)
        return str(getattr(inner, "name_or_path", "") or type(inner).__name__)

    async def aclose(self) -> None:
        """Drop the model (its memory is freed once nothing else holds it)."""
        # In a thread: a call that timed out may still hold the lock, and the loop must not block.
        await asyncio.to_thread(self._drop)

    def _drop(self) -> None:
        with self._lock:
            if not _is_backend(self._source):
                self._backend = None

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Generate one reply in a worker thread."""
        return await asyncio.to_thread(self._complete, request)

    def _load(self) -> _ReadyBackend:
        if self._backend is None:
            from ..registry import build

            # Through the plugin manager by name: a stage never imports another stage.
            self._backend = build(  # the transformers backend: a _ReadyBackend
                "backend",
                "transformers",
                model=self._source,
                tokenizer=self._tokenizer,
                format=self._format,
                device=self._device,
                dtype=self._dtype,
                batch_size=1,
                progress=False,
            )
        return self._backend

    def _complete(self, request: TeacherRequest) -> TeacherReply:
        settings = request.settings
        with self._lock:
            backend = self._load()
            fmt = backend.format
            if request.system:  # the format renders the system message into the chat template
                from ..students.formats import ThinkFormat
                from ..students.protocol import ProtocolFormat

                # A plugin's format renders its own prompt: it cannot take ours.
                if not isinstance(fmt, ThinkFormat) or isinstance(fmt, ProtocolFormat):
                    raise ProviderError(
                        f"{self.name}: the format {getattr(fmt, 'name', fmt)!r} cannot take a "
                        "system prompt; use a tinyreason ThinkFormat or drop system=.",
                        reason="bad_request",
                        retryable=False,
                    )
                fmt = dataclasses.replace(fmt, system_prompt=request.system)
            prompt = fmt.prompt(backend.tokenizer, request.question)
            control = None
            limit = int(settings.get("max_output_tokens") or DEFAULT_MAX_NEW_TOKENS)
            if settings.get("thinking_budget") is not None:
                from ..records import ThinkingControl

                budget = int(settings["thinking_budget"])
                # max_output_tokens bounds the whole reply, as a provider's does: the answer gets
                # what the thinking budget leaves of it.
                control = ThinkingControl(
                    max_thinking=budget, max_answer_tokens=max(1, limit - budget)
                )
            # top_p only when set: the Backend protocol lacks it (the built-in backends take it).
            top_p = {k: float(v) for k, v in renamed(settings, "top_p").items()}
            [[generation]] = backend.generate(
                [prompt],
                n=1,
                temperature=float(settings.get("temperature") or 0.0),
                max_new_tokens=limit,
                control=control,
                seed=settings.get("seed"),
                **top_p,
            )
            prompt_tokens = len(backend.tokenizer.encode(prompt, add_special_tokens=False))
        return text_reply(
            self,
            generation.thinking.strip(),
            generation.answer_text.strip(),
            truncated=generation.finish_reason == "length",
            usage=Usage(
                input_tokens=prompt_tokens,
                output_tokens=generation.answer_tokens,
                thinking_tokens=generation.thinking_tokens,
            ),
            model=self.model_name,
            empty=f"the model generated no text (finish_reason {generation.finish_reason!r}).",
        )


def _is_backend(obj: object) -> TypeGuard[_ReadyBackend]:
    """A ready backend that also shows its tokenizer (the teacher renders and counts with it)."""
    return isinstance(obj, Backend) and isinstance(obj, HasTokenizer)


@dataclasses.dataclass(frozen=True)
class LocalTeacher(ProviderTeacher):
    """Distil from a ``transformers`` model on this machine (``tr.teacher("local")``).

    ``model`` is a model folder or a hub name (with ``HF_HUB_OFFLINE=1``, one already in the
    cache); it is loaded on the first call of each run. No key, no bill. Calls run one at a time
    (``concurrency`` defaults to 1: more only queues calls, and a queued call's wait counts
    against its ``timeout``). ``thinking_budget`` caps thinking tokens by forcing the end of
    thinking, as budget forcing does; ``max_output_tokens`` caps new tokens (default 4,096).

    Args:
        tokenizer: Where to load the tokenizer from; None: the model's folder.
        format: The student format the model thinks in (``"think-tags"``: ``<think>...</think>``,
            as R1-style open models do; ``"qwen-s1"``). Part of the cache key.
        device: ``"cpu"``, ``"cuda"``...; None: CUDA when there is one.
        dtype: ``"bfloat16"``, ``"float32"``, ``"auto"``...; None keeps the default.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("local", model="path/to/model", thinking_budget=512)
        >>> teacher.settings()
        {'thinking_budget': 512, 'format': 'think-tags'}
        >>> traces = teacher.distill(problems)  # doctest: +SKIP

    Note:
        The cache key holds the model's *name*: after retraining a model in the same folder, pass
        ``cache=`` a new file (or ``refresh="all"``) so old replies are not reused.
    """

    name: ClassVar[str] = "local"
    api_key_env: ClassVar[tuple[str, ...]] = ()
    needs_key: ClassVar[bool] = False

    concurrency: int = 1
    tokenizer: str | None = None
    format: str = "think-tags"
    device: str | None = None
    dtype: str | None = None

    def _check_fields(self) -> list[str]:
        problems = super()._check_fields()
        if self.model is not None and not isinstance(self.model, (str, Path)):
            problems.append(
                "LocalTeacher(model=...) takes a folder or a hub name; to use a loaded model, "
                "build a tinyreason.teachers.local.LocalProvider with it."
            )
        if not isinstance(self.format, str) or not self.format:
            problems.append(f"format must be a student format's name, got {self.format!r}")
        return problems

    def settings(self) -> dict[str, Any]:
        """The base settings plus ``format`` (and ``tokenizer`` when set): both shape the prompt."""
        values = super().settings()
        values["format"] = self.format
        if self.tokenizer is not None:
            values["tokenizer"] = str(self.tokenizer)
        return values

    def make_provider(self) -> Provider:
        """A :class:`LocalProvider`; the model loads on its first call."""
        return LocalProvider(
            str(self.model),
            tokenizer=self.tokenizer,
            format=self.format,
            device=self.device,
            dtype=self.dtype,
        )
