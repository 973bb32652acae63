"""How the lm-eval model ``tinyreason`` generates: run the scaler, turn its output into text.

:class:`Generating` is the half of :class:`~tinyreason.lm_eval.model.TinyReasonLM` behind
``generate_until``: it reads a request's ``gen_kwargs`` (stop strings, budget, temperature), runs
the scaler (or the bare backend with ``scaler=none``) and turns each generation into the text
lm-eval gets back (``output="answer"`` or ``"full"``, ``until`` cutting the answer only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import DataError
from ..interfaces import Backend, TestTimeScaler
from ..records import Generation, Problem, Solution

__all__ = ["Generating"]

#: lm-eval's names for the generation budget in ``gen_kwargs``, in its priority order.
_BUDGET_KEYS = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")


class Generating:
    """Generation for :class:`~tinyreason.lm_eval.model.TinyReasonLM`, which sets the attributes.

    Example:
        >>> from tinyreason.lm_eval.model import TinyReasonLM
        >>> issubclass(TinyReasonLM, Generating)
        True
    """

    # Set by TinyReasonLM.__init__ (annotations only: no class attributes).
    student_backend: Backend
    scaler: TestTimeScaler | None
    tokenizer: Any
    seed: int | None
    max_gen_toks: int | None
    output: str
    skip_special_tokens: bool
    _prompts: Any
    _think_end: tuple[int, ...] | None
    _tokenizer: Callable[[str], Any]
    _warn_once: Callable[[str, str], None]

    # -- generation ----------------------------------------------------------------------------

    def _gen_kwargs(self, gen_kwargs: dict[str, Any]) -> tuple[list[str], int | None, float]:
        """The stop strings, the generation budget and the temperature a request asks for."""
        until = gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        if not all(isinstance(u, str) for u in until):
            raise DataError(f"lm-eval's until must be strings, got {until!r}")
        budget = next((gen_kwargs[k] for k in _BUDGET_KEYS if gen_kwargs.get(k) is not None), None)
        budget = self.max_gen_toks if budget is None else int(budget)
        sample = bool(gen_kwargs.get("do_sample", False))
        temperature = float(gen_kwargs.get("temperature", 1.0 if sample else 0.0) or 0.0)
        if not sample:
            temperature = 0.0
        ignored = sorted(set(gen_kwargs) - {"until", "do_sample", "temperature", *_BUDGET_KEYS})
        if ignored:
            self._warn_once(
                "ignored",
                f"tinyreason: generation options {ignored} are not used (the scaler's own options "
                "decide sampling; set them in --model_args).",
            )
        return until, budget, temperature

    def _generate(
        self, contexts: list[str], until: list[str], budget: int | None, temperature: float
    ) -> list[str]:
        if self.scaler is None:
            prompts = [self._prompts.prompt(c) for c in contexts]
            results = self.student_backend.generate(
                prompts, n=1, temperature=temperature, max_new_tokens=budget, seed=self.seed
            )
            return [self._plain_text(r[0], until) for r in results]
        scaler = self._scaler_for(budget, temperature)
        problems = [Problem(f"request-{i}", c) for i, c in enumerate(contexts)]
        solutions = scaler.solve(self._prompts, problems, seed=self.seed)  # type: ignore[arg-type]
        return [self._scaled_text(self._chosen(s), until) for s in solutions]

    def _scaler_for(self, budget: int | None, temperature: float) -> TestTimeScaler:
        from ..evaluation.evaluate import with_generation_budget

        assert self.scaler is not None
        own = getattr(self.scaler, "temperature", None)
        if isinstance(own, (int, float)) and (own > 0) != (temperature > 0):
            self._warn_once(
                "sampling",
                f"tinyreason: the task asks for temperature {temperature}, the scaler samples at "
                f"{own}; the scaler's setting is used (set temperature= in --model_args).",
            )
        return with_generation_budget(self.scaler, budget)

    def _chosen(self, solution: Solution) -> Generation:
        """The generation that stands for a solution.

        The best-scored (best-of-n), or the first whose answer is the chosen one (majority
        voting), or the only one.
        """
        gens = solution.generations
        if len(gens) == 1:
            return gens[0]
        if solution.scores:
            return gens[max(range(len(gens)), key=lambda i: solution.scores[i])]
        from ..answers import extract_answer

        kind = getattr(self.scaler, "answer_kind", "auto")
        end = self.student_backend.format.think_end
        for g in gens:
            if extract_answer(g.text, kind=kind, think_end=end) == solution.answer:
                return g
        return gens[0]

    # -- turning a generation into lm-eval's text ----------------------------------------------

    def _body(self, g: Generation) -> list[int] | None:
        """The generated ids without the stop token that ended them, when the backend gave ids."""
        if g.token_ids is None or getattr(self.student_backend, "tokenizer", None) is None:
            return None
        ids = list(g.token_ids)
        return ids[:-1] if g.finish_reason == "stop" and ids else ids

    def _decode(self, ids: Sequence[int]) -> str:
        text: str = self._tokenizer("decoding").decode(
            list(ids), skip_special_tokens=self.skip_special_tokens
        )
        return text

    def _strip_specials(self, text: str) -> str:
        """Special tokens removed from a text (for backends that return no ids)."""
        if not self.skip_special_tokens or self.tokenizer is None:
            return text
        for token in sorted(getattr(self.tokenizer, "all_special_tokens", ()), key=len)[::-1]:
            text = text.replace(token, "")
        return text

    def _end_ids(self) -> tuple[int, ...]:
        if self._think_end is None:
            tokenizer = self._tokenizer("decoding")
            self._think_end = tuple(
                tokenizer.encode(self.student_backend.format.think_end, add_special_tokens=False)
            )
        return self._think_end

    def _scaled_text(self, g: Generation, until: list[str]) -> str:
        """A budget-forced generation: ``until`` cuts the generated answer, never the thinking."""
        body = self._body(g)
        if body is None:  # a text-only engine: split the text at the end of thinking
            end = self.student_backend.format.think_end
            at = g.text.rfind(end)
            cut = len(g.text) if at < 0 else at + len(end)
            head, region = g.text[:cut], g.text[cut:]
            answer = region.lstrip()
            lead = region[: len(region) - len(answer)]
            head, lead, answer = (self._strip_specials(t) for t in (head, lead, answer))
            tail = lead + _cut(answer, until)
        else:
            n = g.answer_tokens
            head_ids, answer_ids = body[: len(body) - n], body[len(body) - n :]
            at = _rfind(head_ids, self._end_ids())
            split = len(head_ids) if at < 0 else at + len(self._end_ids())
            head = self._decode(head_ids[:split])
            # The lead-in the loop appended (e.g. "\nFinal Answer:") is the prompt of the answer
            # round, so the stop strings apply after it, as in s1's fork.
            tail = self._decode(head_ids[split:]) + _cut(self._decode(answer_ids), until)
        return head + tail if self.output == "full" else tail.lstrip()

    def _plain_text(self, g: Generation, until: list[str]) -> str:
        """A free generation (``scaler=none``): ``until`` cuts it all, as lm-eval's ``hf`` does."""
        body = self._body(g)
        text = self._strip_specials(g.text) if body is None else self._decode(body)
        text = _cut(text, until)
        if self.output == "full":
            return text
        if body is None:
            end = self.student_backend.format.think_end
            return text.split(end)[-1].lstrip() if end in text else text
        at = _rfind(body, self._end_ids())
        if at < 0:
            return text
        return _cut(self._decode(body[at + len(self._end_ids()) :]), until).lstrip()


def _cut(text: str, until: list[str]) -> str:
    """``text`` up to the first of the stop strings (lm-eval's rule, in order)."""
    for stop in until:
        if stop:
            text = text.split(stop)[0]
    return text


def _rfind(ids: Sequence[int], part: Sequence[int]) -> int:
    """The start of the last occurrence of ``part`` in ``ids``, or -1."""
    n = len(part)
    if not n:
        return -1
    for start in range(len(ids) - n, -1, -1):
        if list(ids[start : start + n]) == list(part):
            return start
    return -1
