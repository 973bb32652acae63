r"""Pull the final answer out of a model's output.

s1's evaluation grades "the last ``\boxed{}`` or ``Answer:`` after ``<|im_start|>answer``"
(reference s1.md, section 3). :func:`extract_answer` does the same, with a few rules more, and
in a fixed, documented order so that results are reproducible:

1. If ``think_end`` is given and occurs, the text after its *last* occurrence is searched first
   with every rule below; only if that finds nothing is the whole text searched the same way.
2. In each searched text, for ``kind="auto"`` / ``"math"``:

   a. the last ``\boxed{...}`` / ``\fbox{...}`` / ``\framebox{...}`` whose braces close;
   b. else the last answer line: ``Final Answer:``, ``Answer:``, ``The answer is`` (its content is
      cleaned of ``**``, ``$...$``, ``\(...\)``, a wrapping ``\boxed{}`` and a trailing period);
   c. else, as a last resort, the last number in the text (``1,000`` becomes ``1000``).

3. ``kind="integer"`` (AIME) runs the same rules but only accepts a whole number 0-999
   (``042`` -> ``42``, ``\textbf{(113)}`` -> ``113``, ``m+n=37`` -> ``37``). When a boxed or answer
   line exists but is not such a number, the model answered something else: the result is None
   rather than a guess from stray numbers.
4. ``kind="multiple_choice"`` (GPQA) looks for a letter A-D: in the last boxed, else in the last
   answer line (``Answer: B``, ``the correct answer is (B)``), else the last letter written on its
   own line, in bold (``**B**``) or in parentheses (``(B)``).

5. ``kind="s1-math"`` / ``"s1-integer"`` / ``"s1-multiple_choice"`` use s1's own rule instead
   (:mod:`tinyreason.answers.s1`): the text after the last ``think_end + "\n"``, then
   its last ``\boxed{}``, else what follows ``Answer:``; digit strings as integers; for multiple
   choice a letter A-D or None. The built-in AIME24 / AIME25 / MATH500 / GPQA-Diamond benchmarks
   use these by default (``extraction="s1"``); the kinds above are tinyreason's own rules
   (``extraction="tinyreason"``).

Nothing here raises on text, whatever it contains; only a bad ``kind`` raises
:class:`~tinyreason.errors.ConfigError`. Every scan is linear in the text length, so a
100k-character generation full of unclosed braces costs milliseconds.
"""

from __future__ import annotations

import re

from ..errors import ConfigError
from .s1 import _SECTION_RE, s1_extract_answer

__all__ = [
    "ANSWER_KINDS",
    "CHOICE_LETTERS",
    "EXTRACTIONS",
    "answer_kind_for",
    "describe_extraction",
    "extract_answer",
    "last_boxed",
    "split_answer_kind",
]

#: The ``kind`` values :func:`extract_answer` accepts. "auto" and "math" behave the same today;
#: the ``"s1-"`` kinds apply s1's extraction rule to the kind after the prefix.
ANSWER_KINDS: tuple[str, ...] = (
    "auto",
    "math",
    "integer",
    "multiple_choice",
    "s1-math",
    "s1-integer",
    "s1-multiple_choice",
)
#: The extraction rules: s1's own (``"s1-<kind>"``) and tinyreason's (``"<kind>"``).
EXTRACTIONS: tuple[str, ...] = ("s1", "tinyreason")
_S1_PREFIX = "s1-"
#: The letters a multiple-choice answer may be (GPQA has four options).
CHOICE_LETTERS = "ABCD"

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
# An answer line says "answer" and then ":" / "is"; a heading "Final Answer" alone on its line
# (Qwen's "**Final Answer**") counts too, its answer being on the following lines.
_ANSWER_RE = re.compile(
    r"(?<![A-Za-z])(?:"
    r"(?:(?:final|correct|best)\s+)?answer(?:[ \t]*(?:\*\*|__))?[ \t]*"
    r"(?:[:：]|is(?![A-Za-z])[ \t]*:?)"
    r"|final\s+answer[ \t*_#]*(?=\n)"
    r")",
    re.IGNORECASE,
)
# Numbers for the last-resort rule: not glued to a word ("Multpi12", "x2") or to a decimal point.
_NUMBER_RE = re.compile(
    r"(?<![\w.])-?(?:"
    r"\\[dt]?frac\{\d+\}\{\d+\}"
    r"|\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?"
    r"|\d+(?:\.\d+)?(?:/\d+)?"
    r")"
)
_INTEGER_RE = re.compile(r"\+?(\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?")
# Wrappers that only style an answer: \textbf{(113) } is 113.
_STYLE_RE = re.compile(
    r"\\(?:text(?:bf|rm|it|normal)?|math(?:bf|rm|it)|bf|mbox|boxed|fbox|framebox|displaystyle)"
    r"\s*\{([^{}]*)\}"
)
_CHOICE_UPPER_RE = re.compile(r"(?:option|choice)?\s*[(\[]?([A-Z])[)\]]?(?![A-Za-z0-9])", re.I)
_CHOICE_ALONE_RE = re.compile(r"(?:option|choice)?\s*[(\[]?([a-z])[)\]]?\.?", re.I)
_CHOICE_FALLBACK_RE = re.compile(
    r"(?:^|\n)[ \t>*_#]*\(?([A-D])\)?[ \t]*[.:)]?[ \t*_]*(?=\n|$)"  # a letter alone on its line
    r"|\*\*\(?([A-D])\)?\*\*"  # bold: **B**
    r"|\(([A-D])\)"  # parenthesised: (B)
)
_BARE_ARG_RE = re.compile(r"[-\w\\][^\s$]*")  # "\boxed 5": an argument without braces
_DOLLAR_RE = re.compile(r"(?<!\\)\$")  # a "$" that delimits math, not an escaped "\$"
_MAX_ANSWER_CHARS = 1000  # an answer line longer than this is prose, and capping keeps scans linear
_NEXT_SPAN_RE = re.compile(r"[ \t]*\$(?!\$)")  # another inline span right after one
_MATH_SPANS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def _matching_braces(text: str) -> dict[int, int]:
    r"""Map each ``{`` that closes to its ``}`` in one pass (``\{`` and ``\}`` are skipped)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            i += 2  # "\{" is a literal brace; "\\" is a line break, so the next "{" still counts
            continue
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def _box_content(text: str, pos: int, pairs: dict[int, int]) -> str:
    """Return the stripped argument of the box command ending at ``pos`` ("" when unclosed)."""
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    if text.startswith("[", pos):  # \framebox[width]{...}
        close = text.find("]", pos, pos + 50)
        pos = close + 1 if close != -1 else pos
    if pos < len(text) and text[pos] == "{":
        end = pairs.get(pos)
        return text[pos + 1 : end].strip() if end is not None else ""
    match = _BARE_ARG_RE.match(text, pos, pos + _MAX_ANSWER_CHARS)  # "\boxed 5"
    return match.group(0).rstrip(".,;") if match else ""


def last_boxed(text: str) -> str | None:
    r"""Return the content of the last ``\boxed{...}`` (or ``\fbox``) whose braces close.

    Nested braces are matched properly, and a box left unclosed (a generation cut off mid-answer)
    is skipped in favour of the closed one before it.

    Args:
        text: Any text.

    Returns:
        The stripped content, or None when there is no closed, non-empty box.

    Example:
        >>> last_boxed(r"first \boxed{1}, then \boxed{\frac{1}{2}}")
        '\\frac{1}{2}'
        >>> last_boxed("no box here") is None
        True
    """
    if not isinstance(text, str) or "\\" not in text:
        return None
    ends = [match.end() for match in _BOX_RE.finditer(text)]
    if not ends:
        return None
    pairs = _matching_braces(text)
    for pos in reversed(ends):  # from the end, so only the answer's box is ever sliced out
        content = _box_content(text, pos, pairs)
        if content:
            return content
    return None


def _math_span(text: str) -> str | None:
    r"""Return the inside of the ``$..$``, ``$$..$$``, ``\[..\]`` or ``\(..\)`` opening ``text``."""
    for opener, closer in _MATH_SPANS:
        if text.startswith(opener):
            end = text.find(closer, len(opener))
            if end == -1:
                return None
            parts = [text[len(opener) : end]]
            # "$x_0 \cos t+$ $\dot{x}_0 \sin t$": one answer split over inline spans that only
            # whitespace separates (seen in MIT OCW solutions) is joined back together.
            while opener == "$" and (more := _NEXT_SPAN_RE.match(text, end + 1)) is not None:
                close = text.find("$", more.end())
                if close == -1:
                    break
                parts.append(text[more.end() : close])
                end = close
            return " ".join(parts)
    return None


def _clean_answer(content: str) -> str:
    """Strip what decorates an answer line's content: bold, math delimiters, a box, a period."""
    content = content.strip().strip("*_").strip()
    span = _math_span(content)
    if span is not None:
        content = span
    boxed = last_boxed(content)
    if boxed is not None:
        content = boxed
    content = _DOLLAR_RE.sub("", content).strip().strip("*_").strip()
    content = re.sub(r"\\boxed\s*$", "", content)  # "Answer: 42 \boxed" (a cut-off box)
    content = content.rstrip(" .,;").strip()
    return content


def _answer_line_at(text: str, start: int) -> str:
    """Return the answer that follows an answer marker ending at ``start`` (may be empty)."""
    window = text[start : start + _MAX_ANSWER_CHARS]
    stripped = window.lstrip(" \t*_:")
    if stripped.startswith("\n") or not stripped.strip("\n"):
        # "Final Answer:\n\n$42$": the answer is on the next non-blank line.
        stripped = stripped.lstrip("\n \t*_")
    span = _math_span(stripped)
    if span is not None:
        return _clean_answer(span)
    line = stripped.split("\n", 1)[0]
    # "The answer is 3.5. Then..." ends at the sentence's end, but not at "3.5".
    line = re.split(r"\.(?=\s|$)", line, maxsplit=1)[0]
    return _clean_answer(line)


def _last_answer_line(text: str) -> str | None:
    """Return the content of the last answer line that has one, or None."""
    ends = [match.end() for match in _ANSWER_RE.finditer(text)]
    for end in reversed(ends):  # from the end: usually only one line is ever cleaned
        content = _answer_line_at(text, end)
        if content:
            return content
    return None


def _last_number(text: str) -> str | None:
    last = None
    for last in _NUMBER_RE.finditer(text):  # noqa: B007 - only the last match is wanted
        pass
    if last is None:
        return None
    number = last.group(0)
    return number if "frac" in number else number.replace(",", "")


def _as_integer(candidate: str) -> str | None:
    """``candidate`` as an AIME answer (a whole number 0-999, no leading zeros), else None."""
    text = candidate
    for _ in range(5):  # unwrap nested styling: \boxed{\textbf{(113)}}
        unwrapped = _STYLE_RE.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    text = re.sub(r"[\s$*{}]|\\[,;!: ]|\^\\circ", "", text)
    if "=" in text:  # "m+n=37": the number after the last "=" is the answer
        text = text.rsplit("=", 1)[1]
    text = text.strip("()[].")
    match = _INTEGER_RE.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1).replace(",", "").lstrip("0") or "0"
    return digits if len(digits) <= 3 else None


def _as_choice(candidate: str, letters: str = CHOICE_LETTERS) -> str | None:
    r"""Return the option letter ``candidate`` names (``"(B)"``, ``"b"``, ``"\text{B}"``), or None.

    An upper-case letter may be followed by more text (``"B) 42"``); a lower-case one must stand
    alone, since "a" is also a word.
    """
    text = _STYLE_RE.sub(r"\1", candidate)
    text = text.replace("$", "").strip().strip("*_").strip()
    upper = _CHOICE_UPPER_RE.match(text)
    if upper and upper.group(1).isupper() and upper.group(1) in letters:
        return upper.group(1)
    alone = _CHOICE_ALONE_RE.fullmatch(text)
    if alone and alone.group(1).upper() in letters:
        return alone.group(1).upper()
    return None


def _search(text: str, kind: str) -> str | None:
    """Apply the rules for ``kind`` to one piece of text."""
    box = last_boxed(text)
    line = _last_answer_line(text)
    strong = [candidate for candidate in (box, line) if candidate is not None]
    if kind == "integer":
        for candidate in strong:
            number = _as_integer(candidate)
            if number is not None:
                return number
        if strong:
            return None
        last = _last_number(text)
        return _as_integer(last) if last is not None else None
    if kind == "multiple_choice":
        for candidate in strong:
            letter = _as_choice(candidate)
            if letter is not None:
                return letter
        found = None
        for found in _CHOICE_FALLBACK_RE.finditer(text):  # noqa: B007 - the last one counts
            pass
        if found is None:
            return None
        return next(group for group in found.groups() if group)
    if strong:
        return strong[0]
    return _last_number(text)


def extract_answer(text: str, kind: str = "auto", think_end: str | None = None) -> str | None:
    r"""Return the final answer in a model's output, or None when it gives none.

    The rules and their order are in this module's docstring: the part after ``think_end`` first,
    then the whole text; in each, the last closed box, then the last answer line, then (for math)
    the last number.

    Args:
        text: The generated text (thinking and answer).
        kind: ``"auto"``/``"math"`` (any answer, returned as written), ``"integer"`` (a whole
            number 0-999, as for AIME) or ``"multiple_choice"`` (a letter A-D, as for GPQA);
            ``"s1-math"``, ``"s1-integer"``, ``"s1-multiple_choice"`` apply s1's rule instead
            (:func:`~tinyreason.answers.s1.s1_extract_answer`).
        think_end: The delimiter that ends thinking (``"<|im_start|>answer"`` for s1), if any.

    Returns:
        The answer as a string, stripped of decoration, or None.

    Raises:
        ConfigError: ``kind`` is not one of :data:`ANSWER_KINDS`.

    Example:
        >>> extract_answer(r"so maybe \boxed{5}<|im_start|>answer The answer is $\boxed{042}$.",
        ...                kind="integer", think_end="<|im_start|>answer")
        '42'
        >>> extract_answer("Answer: (B) because of the Pauli principle", kind="multiple_choice")
        'B'
        >>> extract_answer("Final Answer: $\\frac{1}{2}$.")
        '\\frac{1}{2}'
        >>> extract_answer("I do not know.") is None
        True
        >>> extract_answer("Final Answer: 007", kind="s1-integer")  # s1's rule
        '7'
    """
    if kind not in ANSWER_KINDS:
        raise ConfigError(f"kind must be one of {', '.join(ANSWER_KINDS)}; got {kind!r}.")
    if not isinstance(text, str):
        return None
    if kind.startswith(_S1_PREFIX):
        end = think_end if isinstance(think_end, str) else None
        return s1_extract_answer(text, kind=kind[len(_S1_PREFIX) :], think_end=end)
    if isinstance(think_end, str) and think_end and think_end in text:
        answer_part = text[text.rindex(think_end) + len(think_end) :]
        found = _search(answer_part, kind)
        if found is not None:
            return found
    return _search(text, kind)


def split_answer_kind(kind: str) -> tuple[str, str]:
    """Split an answer kind into its extraction rule and its base kind.

    Args:
        kind: One of :data:`ANSWER_KINDS`.

    Returns:
        ``(extraction, base)``: ``("s1", "integer")`` for ``"s1-integer"``, ``("tinyreason",
        "integer")`` for ``"integer"``.

    Raises:
        ConfigError: ``kind`` is not one of :data:`ANSWER_KINDS`.

    Example:
        >>> split_answer_kind("s1-multiple_choice"), split_answer_kind("math")
        (('s1', 'multiple_choice'), ('tinyreason', 'math'))
    """
    if kind not in ANSWER_KINDS:
        raise ConfigError(f"answer kind must be one of {', '.join(ANSWER_KINDS)}; got {kind!r}.")
    if kind.startswith(_S1_PREFIX):
        return "s1", kind[len(_S1_PREFIX) :]
    return "tinyreason", kind


def answer_kind_for(kind: str, extraction: str) -> str:
    """The answer kind that extracts ``kind``'s answers with the ``extraction`` rule.

    Args:
        kind: A base kind (``"math"``, ``"integer"``, ``"multiple_choice"``, ``"auto"``) or any
            answer kind (its own rule is replaced).
        extraction: ``"s1"`` (s1's rule) or ``"tinyreason"`` (this module's rules).

    Raises:
        ConfigError: an unknown ``kind`` or ``extraction`` (the message lists the valid ones).

    Example:
        >>> answer_kind_for("integer", "s1"), answer_kind_for("s1-math", "tinyreason")
        ('s1-integer', 'math')
    """
    if extraction not in EXTRACTIONS:
        raise ConfigError(
            f"extraction must be one of {', '.join(EXTRACTIONS)}; got {extraction!r}."
        )
    base = split_answer_kind(kind)[1]
    if extraction == "tinyreason":
        return base
    return _S1_PREFIX + ("math" if base == "auto" else base)


def describe_extraction(kind: str, think_end: str | None = None) -> str:
    r"""One line saying how answers of ``kind`` are extracted, for reports.

    Args:
        kind: One of :data:`ANSWER_KINDS`.
        think_end: The student format's end-of-thinking delimiter, when known.

    Raises:
        ConfigError: ``kind`` is not one of :data:`ANSWER_KINDS`.

    Example:
        >>> print(describe_extraction("s1-integer", "<|im_start|>answer"))  # doctest: +ELLIPSIS
        s1 (integer): the text after the last '<|im_start|>answer\n' (else after the last ...
    """
    extraction, base = split_answer_kind(kind)
    if extraction == "s1":
        where = "the whole text"
        if think_end:
            section = _SECTION_RE.fullmatch(think_end)
            fallback = (
                f"else after the last {section.group(1)!r}, its first line dropped"
                if section is not None
                else f"else after the last {think_end!r}"
            )
            where = f"the text after the last {think_end + chr(10)!r} ({fallback}; else all)"
        found = (
            "its last \\boxed{} (or '\\boxed ', \\fbox{}), else what follows the first "
            "'Answer:', else the text itself"
        )
        if base == "multiple_choice":
            return (
                f"s1 ({base}): {where}; {found}; a-d upper-cased; anything but A-D is unparsed "
                "and graded wrong (s1 asked gpt-4o-mini, else took 'A')"
            )
        return f"s1 ({base}): {where}; {found}; digit strings as integers (023 = 23)"
    where = f"after the last {think_end!r} first, then the whole text" if think_end else "the text"
    found = {
        "multiple_choice": "a letter A-D from the last box, answer line, or a letter set apart",
        "integer": "the last closed box, else answer line, else last number; a whole number 0-999",
    }.get(base, "the last closed box, else the last answer line, else the last number")
    return f"tinyreason ({base}): {where}; {found}"
