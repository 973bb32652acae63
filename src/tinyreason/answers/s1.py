r"""s1's answer extraction: how s1's own evaluation reads the answer out of a generation.

s1 evaluates with a fork of lm-evaluation-harness (simplescaling/s1 @77272c6,
``eval/lm-evaluation-harness/lm_eval/tasks/{aime,openai_math,gpqa/openai}/utils.py``, the
``process_results`` functions). This module follows that rule step by step, written afresh:

1. **The answer part.** The text after the *last* ``think_end + "\n"`` (``<|im_start|>answer\n``
   for s1's format). Failing that, when the format's section marker occurs (``<|im_start|>``, the
   special token ``think_end`` starts with), the text after its last occurrence with its first line
   (the section's name) dropped. Failing both, the whole text. For a format whose ``think_end`` is
   one tag (``</think>``), the fallback is that tag without the newline, and nothing is dropped.
   Unlike :func:`~tinyreason.evaluation.extract_answer`'s own rules, an answer part that holds no
   answer is *not* searched again in the thinking.
2. **The answer.** The content of the last box (:func:`s1_last_boxed`: ``\boxed{...}`` with
   nested braces, ``\boxed 5`` with a space, ``\fbox{...}``); else what follows ``Answer:``
   (the pattern ``(?i)Answer\s*:\s*(.*)`` with ``re.DOTALL``; because ``(.*)`` runs to the end of
   the text, the "last match" s1 takes is everything after the *first* ``Answer:``); else the
   answer part itself (s1 hands it to its judge as it is).
3. **Normalisation.** A string of digits is read as an integer (``023`` is ``23``), as s1 does
   before comparing with the reference. For multiple choice a lone ``a``-``d`` is upper-cased, and
   anything but ``A``-``D`` gives None.

Where we differ, because s1's grader is an LLM and ours is not:

* s1 sends every answer that is not a digit string (or, for GPQA, not a letter) to gpt-4o-mini,
  which matches it to the reference; without that judge, GPQA answers default to ``"A"``. We hand
  the extracted text to the grader (math-verify equivalence, or the option letter) and never guess
  a letter: an unparsed GPQA answer is None and graded wrong.
* Surrounding whitespace is stripped (``"Answer: 5\n"`` gives ``"5"``; s1's judge sees through
  it), and an empty answer is None.
* An answer taken from an ``Answer:`` line or from the bare answer part that is longer than
  1,000 characters is prose, not an answer: None (so a whole unfinished generation never becomes
  a vote or fills a report's rows; s1's judge would read it).
* Where s1's ``remove_boxed`` fails an assertion (``\fbox{5}``, or ``\boxed`` followed by a
  newline before its brace), we return the braces' content.

Example:
    >>> s1_extract_answer("so \\boxed{5}...<|im_start|>answer\nAnswer: 023",
    ...                   think_end="<|im_start|>answer")
    '23'
    >>> s1_extract_answer("<|im_start|>answer\nAnswer: b", kind="multiple_choice",
    ...                   think_end="<|im_start|>answer")
    'B'
"""

from __future__ import annotations

import re

__all__ = ["S1_MAX_ANSWER_CHARS", "s1_answer_part", "s1_extract_answer", "s1_last_boxed"]

#: An answer from an ``Answer:`` line or a bare answer part longer than this is prose: None.
S1_MAX_ANSWER_CHARS = 1000

_ANSWER_RE = re.compile(r"answer\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
# A delimiter made of a special token and a section name: "<|im_start|>answer".
_SECTION_RE = re.compile(r"(<[^<>\s]+>)([A-Za-z_]\w*)")
_BRACE_RE = re.compile(r"[{}]")
_SPACED_BOX = "\\boxed "
_CHOICES = ("A", "B", "C", "D")


def s1_answer_part(text: str, think_end: str | None) -> str:
    r"""Return the part of ``text`` s1 reads the answer from (step 1 of the module docstring).

    Args:
        text: A generation.
        think_end: The student format's end-of-thinking delimiter (``"<|im_start|>answer"`` for
            s1's format, ``"</think>"`` for think tags); None reads the whole text.

    Returns:
        The text after the last ``think_end + "\n"``; else after the last section marker, its
        first line dropped; else ``text`` itself.

    Example:
        >>> s1_answer_part("think<|im_start|>answer\nAnswer: 5", "<|im_start|>answer")
        'Answer: 5'
        >>> s1_answer_part("think<|im_start|>answer 5\nAnswer: 6", "<|im_start|>answer")
        'Answer: 6'
        >>> s1_answer_part("think</think>5", "</think>")
        '5'
    """
    if not think_end:
        return text
    delimiter = think_end + "\n"
    if delimiter in text:
        return text[text.rindex(delimiter) + len(delimiter) :]
    section = _SECTION_RE.fullmatch(think_end)
    marker = section.group(1) if section is not None else think_end
    if marker not in text:
        return text
    rest = text[text.rindex(marker) + len(marker) :]
    if section is not None and "\n" in rest:
        rest = rest.split("\n", 1)[1]  # the first line names the section ("answer", "think")
    return rest


def s1_last_boxed(text: str) -> str | None:
    r"""Return the content of the last box, as s1's ``last_boxed_only_string`` finds it.

    In s1's order: if ``\boxed `` (with a space) occurs anywhere, the text after its last
    occurrence up to the next ``$``; else the last ``\boxed`` (or, when there is none, the last
    ``\fbox``) and the braces after it, counted without regard to ``\{``, up to the ``}`` that
    brings the count back to zero. Not stripped.

    Args:
        text: Any text.

    Returns:
        The box's content, or None when there is no box or its braces never close.

    Example:
        >>> s1_last_boxed(r"\boxed{1} and \boxed{\frac{1}{2}}")
        '\\frac{1}{2}'
        >>> s1_last_boxed(r"$\boxed 7$ points")
        '7'
        >>> s1_last_boxed(r"a cut-off \boxed{12") is None
        True
    """
    if _SPACED_BOX in text:
        after = text[text.rindex(_SPACED_BOX) + len(_SPACED_BOX) :]
        return after.split("$", 1)[0]
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth, opened = 0, -1
    for brace in _BRACE_RE.finditer(text, start):
        if brace.group() == "{":
            depth += 1
            opened = brace.start() if opened < 0 else opened
        else:
            depth -= 1
            if depth == 0:
                return text[opened + 1 : brace.start()]
    return None


def s1_extract_answer(text: str, kind: str = "math", think_end: str | None = None) -> str | None:
    r"""Return the answer in a generation by s1's rule (see the module docstring), or None.

    Args:
        text: The generated text (thinking and answer).
        kind: ``"math"`` / ``"integer"`` / ``"auto"`` (s1's AIME and MATH500 rule: the same for
            all three) or ``"multiple_choice"`` (s1's GPQA rule: a letter A-D, else None).
        think_end: The student format's end-of-thinking delimiter; None reads the whole text.

    Returns:
        The stripped answer (digit strings without leading zeros), or None when the answer is
        empty, too long to be one, or (multiple choice) not a letter A-D.

    Example:
        >>> s1_extract_answer(r"Answer: 12 hmm \boxed{7}")
        '7'
        >>> s1_extract_answer("Answer: **B**", kind="multiple_choice") is None  # no judge, no "A"
        True
    """
    if not isinstance(text, str):
        return None
    part = s1_answer_part(text, think_end)
    answer = s1_last_boxed(part)
    unboxed = answer is None
    if answer is None:
        match = _ANSWER_RE.search(part)
        answer = match.group(1) if match is not None else part
    answer = answer.strip()
    if not answer or (unboxed and len(answer) > S1_MAX_ANSWER_CHARS):
        return None
    if kind == "multiple_choice":
        answer = answer.upper() if answer in ("a", "b", "c", "d") else answer
        return answer if answer in _CHOICES else None
    if answer.isascii() and answer.isdigit():
        return str(int(answer))
    return answer
