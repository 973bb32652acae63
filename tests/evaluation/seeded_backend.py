"""A deterministic fake backend for the resumable-evaluation tests (imported by a subprocess too).

Its samples depend on the call's seed and on each prompt's place in the call, as a real sampler's
do, so a resumed run that grouped problems differently, or seeded a group differently, would give
a different report than an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import Any

import tinyreason as tr

#: The settings every resume test evaluates with: two budgets, three samples, groups of two.
SETTINGS: dict[str, Any] = {
    "budgets": [6, 12],
    "samples": 3,
    "commit_every": 2,
    "answer_kind": "integer",
    "progress": False,
}


def problems(n: int = 6) -> list[tr.Problem]:
    """``n`` problems; problem i needs 4, 7, 10, 13 or 16 thinking tokens, and answers i + 1."""
    return [
        tr.Problem(f"p{i}", f"question {i}: needs {4 + 3 * (i % 5)}", answer=str(i + 1))
        for i in range(n)
    ]


def _hash(*parts: object) -> int:
    key = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big")


@dataclass
class SeededBackend:
    """Answers right when the cap leaves the thinking it needs, and, sampled, two times in three.

    Args:
        pause_at: On this ``generate`` call, print ``generating <call>`` and wait for a line on
            stdin (a parent process kills it there: a kill decided by an event, not a clock).
        fail_at: On this call, raise :class:`Crash` instead (an in-process crash).
    """

    pause_at: int | None = None
    fail_at: int | None = None
    format: Any = field(default_factory=lambda: tr.chat_format("think-tags"))
    calls: int = 0
    prompts: list[str] = field(default_factory=list)

    def prompt(self, question: str) -> str:
        return question

    def describe(self) -> dict[str, Any]:
        return {"backend": "seeded-fake", "model": "none", "format": "think-tags", "device": "cpu"}

    def generate(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        control: Any = None,
        seed: int | None = None,
    ) -> list[list[tr.Generation]]:
        self.calls += 1
        if self.pause_at == self.calls:
            print(f"generating {self.calls}", flush=True)
            sys.stdin.readline()
        if self.fail_at == self.calls:
            raise Crash(f"crashed on call {self.calls}")
        self.prompts.extend(prompts)
        cap = getattr(control, "max_thinking", None)
        cap = cap if isinstance(cap, int) else 10**6
        out = []
        for place, question in enumerate(prompts):
            index, need = int(question.split()[1].rstrip(":")), int(question.split()[-1])
            samples = []
            for sample in range(n):
                h = _hash(seed, place, sample, temperature, question)
                wanted = need + h % 4
                used = min(cap, wanted)
                right = used >= need and (temperature == 0 or h % 3 != 0)
                reply = str(index + 1) if right else str(1000 + h % 7)
                samples.append(
                    tr.Generation(
                        text=f"{'x' * used}</think>\\boxed{{{reply}}}",
                        thinking="x" * used,
                        answer_text=f"\\boxed{{{reply}}}",
                        thinking_tokens=used,
                        answer_tokens=3,
                        forced_end=used < wanted,
                        token_ids=tuple(range(used + 3)),
                    )
                )
            out.append(samples)
        return out


class Crash(RuntimeError):
    """What :class:`SeededBackend` raises on its ``fail_at`` call."""
