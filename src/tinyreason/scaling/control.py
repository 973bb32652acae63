"""Thinking control: the budget-forcing rules every backend enforces the same way.

The defaults are s1's own code: the loop of the lm-evaluation-harness fork that produced the paper's
numbers (``lm_eval/models/vllm_causallms.py::_model_generate`` at s1 @77272c6). Per sample, with a
generation budget ``G`` (``max_new_tokens``, s1's ``max_gen_toks``) and a thinking budget ``T``:

1. The prompt ends with the format's ``think_start``. Thinking runs in *rounds*; each round is one
   engine call that stops on the ids that end thinking (``think_end``'s first token, the end of
   turn, the model's EOS), with ``min_tokens=1`` whenever waits are asked for.
2. ``round_budget="whole"`` (s1's fork, default): every round may generate ``T`` tokens.
   ``"remaining"`` (the README's ``generate.py`` after s1 PR #120): a round gets ``T`` minus the
   tokens the earlier rounds generated, and a wait is only added while some budget is left.
3. A round that stops on a stop token while waits are left (or, with ``wait_below``, while thinking
   is shorter than that) has its stop token removed and the wait text's tokens appended directly
   (no space, no newline); the next round continues. A round that ends by length, or the last
   round, is final.
4. The joined thinking is cut to ``T`` tokens. Then the *last round's* finish decides the end:
   by length, ``"\\n"`` (unless the uncut thinking already ends with a newline) plus
   ``think_end + "\\n" + final_answer_text`` is appended; by a stop, ``think_end`` alone (no
   newline, no lead-in), even when the cut shortened the thinking.
5. The answer is one more generation of up to ``G`` tokens (or ``max_answer_tokens``) that stops
   at the end of turn, with nothing banned.

``max_thinking="auto"`` is s1's: ``G`` minus the longest prompt, the ``think_start`` tokens, the
``think_end + "\\nFinal Answer:"`` tokens and 100.
"""

from __future__ import annotations

# The control is a record (the Backend protocol names it): it lives with the records, so a plugin
# author reads the whole contract in records.py and interfaces.py. This module states the rules.
from ..records import AUTO_MARGIN, ROUND_BUDGETS, ThinkingControl

__all__ = ["AUTO_MARGIN", "ROUND_BUDGETS", "ThinkingControl"]
