r"""Decide whether two answers are the same: normalisation first, then math-verify.

:func:`equivalent` answers in three steps, cheapest first:

1. :func:`normalize` both answers; equal keys are equivalent (``2.50`` / ``2.5``, ``\dfrac12`` /
   ``\frac{1}{2}``, ``1,000`` / ``1000``, ``90^\circ`` / ``90``).
2. Two plain numbers (integers, decimals, ``a/b``, ``\frac{a}{b}``, ``4.5e33``) are decided here,
   exactly in rationals, equal when within a relative 1e-6 (``0.333333`` is ``1/3``); math-verify
   would round both to 6 decimal places and call ``2.88e-19`` equal to ``1.325e-27``. A ``%`` on
   one side also tries the value over 100 (``50\%`` matches ``0.5``).
3. Otherwise math-verify (``parse`` + ``verify``) decides, with its ``signal.alarm`` timeouts turned
   off (they raise ``ValueError`` outside the main thread) and our own instead. It runs in a
   worker process, started on first use (about a second) and shared by all threads: if no reply
   comes within ``timeout`` seconds the worker is killed, replaced for the next comparison, and
   the normaliser's verdict stands (False, since step 1 did not match). A process rather than a
   thread, because sympy computes ``9^{9^{9^{9}}}`` in C while holding the GIL, which freezes every
   thread of the caller; only a process can be stopped. Where no process can be started, a daemon
   thread with the same timeout is the fallback.

Results are cached per (a, b, timeout) because majority voting compares O(n^2) pairs.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from ..errors import ConfigError
from .extract import CHOICE_LETTERS, _as_choice, _matching_braces, split_answer_kind
from .verify import math_verify_equivalent

__all__ = [
    "ChoiceGrader",
    "FullTextGrader",
    "MathGrader",
    "cluster_answers",
    "describe_grader",
    "equivalent",
    "grader_for",
    "normalize",
    "vote",
]

_MAX_MATH_VERIFY_CHARS = 2000  # longer "answers" are prose; sympy on them is slow and pointless

_T = TypeVar("_T")

# --- normalisation -----------------------------------------------------------------------------

_TEXT_WRAPPER_RE = re.compile(
    r"\\(?:text(?:bf|rm|it|normal|sf|tt)?|math(?:bf|rm|it|sf|tt|bb)?|bf|mbox|operatorname"
    r"|displaystyle|boxed)\s*\{([^{}]*)\}"
)
_BOXED_OPENING_RE = re.compile(r"\\boxed\s*\{")
_SPACING_RE = re.compile(r"\\(?:left|right)(?=[^A-Za-z])\.?|\\[,;:! ]|\\q?quad(?![A-Za-z])|~")
_DEGREES_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])|\bdegrees?\b")
_DOLLAR_RE = re.compile(r"(?<!\\)\$|\\[()\[\]]")
_FRAC_SHORT_RE = re.compile(r"\\frac\s*(\d|\{[^{}]*\})\s*(\d|\{[^{}]*\})")
_SQRT_SHORT_RE = re.compile(r"\\sqrt\s*(\d)")
_SCI_RE = re.compile(r"(\d(?:\.\d+)?)\s*(?:\\times|\\cdot|\*|×)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?")
_E_NOTATION_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_RE = re.compile(r"(?<![\w.])(\d*)\.(\d+)(?![\d.])")
_LEADING_ZEROS_RE = re.compile(r"(?<![\w.])0+(?=\d)")
_VARIABLE_PREFIX_RE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?=[^=]+$)")
# Units after a leading number: "1.6 cm", "9.35e5 {m} / {s}", "0.49 arcsecs", "1.69 \AA",
# "3 bushels", but not "5ab" (glued on: a product) nor "10 ^{5}". Any word of two letters or more
# counts, but of single letters only SI symbols, so that "5 x" or "3 i" (a variable, the imaginary
# unit) keep their letter. Nothing with a digit, an operator or another command is stripped.
_LEADING_NUMBER_RE = re.compile(
    r"([+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:e[+-]?\d+)?)(?:\s+|(?=[\\{~]))(.+)"
)
_UNIT_TOKEN_RE = re.compile(
    r"[A-Za-zμΩÅ]{2,}|[mgsKJNWVCFLAT]|\\(?:AA|mu\s*[A-Za-z]{0,2}|Omega|ohm|prime)"
    r"|\^\s*\{?\s*-?\d+\s*\}?|\^\s*\{?(?:\s*\\prime)+\s*\}?|[/·*]|\\cdot|per"
)


def _strip_units(text: str) -> str:
    """Drop the units after a leading number, if everything after it is units."""
    match = _LEADING_NUMBER_RE.fullmatch(text)
    if match is None:
        return text
    rest = re.sub(r"[{}~\s]", " ", match.group(2).replace("\\,", " "))
    rest = re.sub(r"\\(?:AA|mu|Omega|ohm|prime|cdot)(?![A-Za-z])", r" \g<0> ", rest)
    tokens = rest.split()
    if tokens and re.match(r"\^\s*-?\d", " ".join(tokens)):
        return text  # "10 ^{5}" is a power, not a unit
    leftover = _UNIT_TOKEN_RE.sub("", " ".join(tokens)).strip()
    return match.group(1) if tokens and not leftover else text


def _strip_zeros(match: re.Match[str]) -> str:
    whole, fraction = match.group(1) or "0", match.group(2).rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _unwrap(pattern: re.Pattern[str], text: str) -> str:
    for _ in range(10):  # nested wrappers: \text{\textbf{x}}
        unwrapped = pattern.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    return text


def normalize(answer: str) -> str:
    r"""Return a canonical key for an answer: equal keys mean equal answers (not conversely).

    Removes what never changes an answer's value: spaces, ``$`` and ``\(...\)`` delimiters,
    ``\left``/``\right``, spacing commands, ``\text{}``-like wrappers, a wrapping ``\boxed{}``,
    degrees, ``%``, unit words after a number, a leading ``x =``, a trailing period, thousands
    separators, leading zeros and trailing decimal zeros. ``\dfrac``/``\tfrac`` become ``\frac``
    and ``\frac12`` becomes ``\frac{1}{2}``; ``4.5 \times 10^{33}`` becomes ``4.5e33``.

    Args:
        answer: An extracted answer (not a whole solution).

    Returns:
        The key; ``""`` for an empty answer.

    Example:
        >>> normalize(r"$\dfrac12$"), normalize("2.50"), normalize("1,000"), normalize("x = 042")
        ('\\frac{1}{2}', '2.5', '1000', '42')
        >>> normalize(r"\boxed{90^\circ}"), normalize(r"\text{1.6 cm}")
        ('90', '1.6')
    """
    text = str(answer).strip()
    opening = _BOXED_OPENING_RE.match(text)
    if opening and _matching_braces(text).get(opening.end() - 1) == len(text) - 1:
        text = text[opening.end() : -1]  # the whole answer is one \boxed{...}
    text = _DOLLAR_RE.sub(" ", text)
    text = text.replace("\\displaystyle", " ").replace("\\dfrac", "\\frac")
    text = text.replace("\\tfrac", "\\frac").replace("\\%", "").replace("%", "").replace("\\$", "")
    text = _SPACING_RE.sub(" ", text)
    text = _unwrap(_TEXT_WRAPPER_RE, text)
    text = _DEGREES_RE.sub("", text)
    text = _SCI_RE.sub(r"\1e\2", text)
    text = text.strip().rstrip(".").strip()
    text = re.sub(r"\s+", " ", text)
    text = _VARIABLE_PREFIX_RE.sub("", text)
    text = _strip_units(text)
    text = re.sub(r"\s+", "", text)
    text = _FRAC_SHORT_RE.sub(
        lambda m: "\\frac" + "".join(g if g.startswith("{") else f"{{{g}}}" for g in m.groups()),
        text,
    )
    text = _SQRT_SHORT_RE.sub(r"\\sqrt{\1}", text)
    if _THOUSANDS_RE.fullmatch(text):
        text = text.replace(",", "")
    text = _DECIMAL_RE.sub(_strip_zeros, text)
    text = _LEADING_ZEROS_RE.sub("", text)
    # Braces around the whole answer ("{5}") group nothing; one pass finds all such layers.
    pairs, layers = _matching_braces(text), 0
    while text[layers : layers + 1] == "{" and pairs.get(layers) == len(text) - 1 - layers:
        layers += 1
    return text[layers : len(text) - layers].rstrip(".")


# --- exact numbers -----------------------------------------------------------------------------

#: Plain numbers this close (relatively) are equal: 0.333333 matches 1/3, 0.3333 does not.
_REL_TOL = Fraction(1, 10**6)
_PLAIN_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:e([+-]?\d+))?", re.IGNORECASE)
_RATIO_RE = re.compile(r"([+-]?)(?:(\d+)/(\d+)|\\frac\{(\d+)\}\{(\d+)\})")


def _number(key: str) -> Fraction | None:
    """Return the exact value of a normalised key that is a plain number, else None."""
    if len(key) > 40:  # also keeps Fraction away from 10**huge
        return None
    plain = _PLAIN_NUMBER_RE.fullmatch(key)
    if plain:
        if plain.group(1) is not None and abs(int(plain.group(1))) > 400:
            return None
        return Fraction(key)
    ratio = _RATIO_RE.fullmatch(key)
    if ratio:
        sign, num, den = (
            ratio.group(1),
            ratio.group(2) or ratio.group(4),
            ratio.group(3) or ratio.group(5),
        )
        if int(den) == 0:
            return None
        return Fraction(int(num), int(den)) * (-1 if sign == "-" else 1)
    return None


def _close(x: Fraction, y: Fraction) -> bool:
    """Return True when two numbers agree to a relative 1e-6 (exactly, in rationals)."""
    return abs(x - y) <= _REL_TOL * max(abs(x), abs(y))


def _for_math_verify(answer: str) -> str:
    r"""Prepare ``answer`` for math-verify: drop ``$``, write ``4.5e33`` as ``4.5\times10^{33}``.

    math-verify would read the ``e`` of ``4.5e33`` as Euler's number.
    """
    text = _DOLLAR_RE.sub(" ", answer).strip().rstrip(".").strip()
    return _E_NOTATION_RE.sub(r"\1\\times10^{\2}", text)


# --- equivalence -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _equivalent(a: str, b: str, timeout: float) -> bool:
    key_a, key_b = normalize(a), normalize(b)
    if not key_a or not key_b:
        return False
    if key_a == key_b:
        return True
    num_a, num_b = _number(key_a), _number(key_b)
    if num_a is not None and num_b is not None:
        # Decided here, not by math-verify: it rounds to 6 decimal places, so 2.88e-19 would
        # "equal" 1.325e-27. "50%" also matches 0.5.
        values_a = {num_a, num_a / 100} if "%" in a else {num_a}
        values_b = {num_b, num_b / 100} if "%" in b else {num_b}
        return any(_close(x, y) for x in values_a for y in values_b)
    # Words ("Yes", "neutron") are compared as words: math-verify would read "no" and "on" as the
    # same product of two symbols.
    if key_a.isalpha() and key_b.isalpha() and min(len(key_a), len(key_b)) >= 2:
        return key_a.casefold() == key_b.casefold()
    if timeout <= 0 or len(a) > _MAX_MATH_VERIFY_CHARS or len(b) > _MAX_MATH_VERIFY_CHARS:
        return False
    return math_verify_equivalent(_for_math_verify(a), _for_math_verify(b), timeout)


def equivalent(a: str | None, b: str | None, *, timeout: float = 5.0) -> bool:
    r"""Tell whether two answers are mathematically the same (``b`` is taken as the reference).

    Never raises and never hangs: see the module docstring for the steps and the timeout design.
    Safe to call from any thread.

    Args:
        a: An answer, e.g. a model's extracted answer; None is never equivalent to anything.
        b: The answer to compare with, e.g. the reference.
        timeout: Seconds math-verify may take; after that the normaliser's verdict stands.
            ``0`` skips math-verify.

    Example:
        >>> equivalent("0.5", "\\frac{1}{2}"), equivalent("2.50", "2.5"), equivalent("3", "4")
        (True, True, False)
        >>> equivalent(None, "1")
        False
    """
    if a is None or b is None:
        return False
    try:
        limit = float(timeout)
        if not math.isfinite(limit):
            limit = 5.0
        return _equivalent(str(a), str(b), limit)
    except Exception:  # a bug in a rule must cost one answer, not a whole evaluation
        return False


def cluster_answers(answers: Sequence[str | None]) -> list[tuple[str, list[int]]]:
    r"""Group equivalent answers, for majority voting.

    Greedy and deterministic: each answer joins the first group (in order of creation) whose
    representative, its first member, it is :func:`equivalent` to; otherwise it starts a new
    group. None and blank answers are skipped. Groups come in order of first occurrence, so ties
    in size can be broken by taking the earliest group.

    Args:
        answers: Extracted answers, one per sample (None when nothing was extracted).

    Returns:
        ``(representative, indices)`` per group; indices point into ``answers``.

    Example:
        >>> cluster_answers(["1/2", None, "0.5", "3", "\\frac{1}{2}"])
        [('1/2', [0, 2, 4]), ('3', [3])]
    """
    groups: list[tuple[str, list[int]]] = []
    for index, answer in enumerate(answers):
        if answer is None or not str(answer).strip():
            continue
        for representative, members in groups:
            if equivalent(answer, representative):
                members.append(index)
                break
        else:
            groups.append((answer, [index]))
    return groups


# --- graders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MathGrader:
    r"""Grades a math answer against a reference with :func:`equivalent`.

    Args:
        timeout: Seconds math-verify may spend on one comparison (must be > 0).

    Example:
        >>> grader = MathGrader(timeout=2.0)
        >>> grader.grade("0.5", "\\frac{1}{2}"), grader.grade(None, "1")
        (True, False)
        >>> grader.grade("27", "27.0")
        True
    """

    timeout: float = 5.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, (int, float))
            or not math.isfinite(self.timeout)
            or self.timeout <= 0
        ):
            raise ConfigError(
                f"MathGrader.timeout must be a number of seconds > 0, got {self.timeout!r}"
            )

    def grade(self, predicted: str | None, reference: str) -> bool:
        """Return True when ``predicted`` is equivalent to ``reference``; False for None."""
        if predicted is None or reference is None:
            return False
        return equivalent(predicted, str(reference), timeout=self.timeout)

    def describe(self) -> str:
        """What decides a grade, for reports (and how it differs from s1's judge).

        Example:
            >>> MathGrader().describe()  # doctest: +ELLIPSIS
            'math-verify equivalence (tinyreason normaliser, then math-verify, 5.0 s timeout)...'
        """
        return (
            f"math-verify equivalence (tinyreason normaliser, then math-verify, {self.timeout} s "
            "timeout); no answer is wrong; s1 used gpt-4o-mini as judge"
        )


@dataclass(frozen=True)
class FullTextGrader(MathGrader):
    r"""Grades a whole response as open-r1 and lighteval do: math-verify finds the answer itself.

    Where :class:`MathGrader` compares the answer tinyreason extracted (s1's rules: the text after
    the answer delimiter, the last ``oxed{}``, ``Answer:``), this one hands the whole response to
    math-verify's own extraction (its LaTeX and expression configs, the last match). The two can
    disagree: a report shows where (``tr.evaluate(..., grader=...)`` with one, the other beside it).

    Args:
        timeout: Seconds math-verify may spend on one response (must be > 0).

    Example:
        >>> grader = FullTextGrader(timeout=5.0)
        >>> grader.grade(r"so the total is $\boxed{\frac{1}{2}}$.", "0.5")
        True
        >>> grader.grade("Answer: 7", "8"), grader.grade(None, "8")
        (False, False)
    """

    def grade(self, predicted: str | None, reference: str) -> bool:
        """True when math-verify's answer found in the response equals ``reference``."""
        if predicted is None or reference is None or not str(predicted).strip():
            return False
        return math_verify_equivalent(str(predicted), str(reference), self.timeout, full_text=True)

    def describe(self) -> str:
        """What decides a grade, for reports.

        Example:
            >>> FullTextGrader().describe()  # doctest: +ELLIPSIS
            'math-verify on the whole response (its own extraction, as open-r1 and lighteval)...'
        """
        return (
            "math-verify on the whole response (its own extraction, as open-r1 and lighteval), "
            f"{self.timeout} s timeout"
        )


@dataclass(frozen=True)
class ChoiceGrader:
    """Grades multiple-choice letters, ignoring case and decoration (``"(b)"`` matches ``"B"``).

    Args:
        letters: The option letters that count as answers.

    Example:
        >>> ChoiceGrader().grade("(b)", "B"), ChoiceGrader().grade("C", "B")
        (True, False)
    """

    letters: str = "ABCDEFGHIJ"

    def __post_init__(self) -> None:
        if not isinstance(self.letters, str) or not self.letters.isalpha():
            raise ConfigError(
                f"ChoiceGrader.letters must be letters like 'ABCD', got {self.letters!r}"
            )
        object.__setattr__(self, "letters", self.letters.upper())

    def grade(self, predicted: str | None, reference: str) -> bool:
        """Return True when both name the same option letter; False for None or a non-letter."""
        if predicted is None or reference is None:
            return False
        mine, theirs = (
            _as_choice(str(predicted), self.letters),
            _as_choice(str(reference), self.letters),
        )
        return mine is not None and mine == theirs

    def describe(self) -> str:
        """What decides a grade, for reports (and how it differs from s1's judge).

        Example:
            >>> ChoiceGrader("ABCD").describe()  # doctest: +ELLIPSIS
            "option letter (A-D) equal to the reference; an unparsed answer is wrong, never a..."
        """
        return (
            f"option letter ({self.letters[0]}-{self.letters[-1]}) equal to the reference; an "
            "unparsed answer is wrong, never a default letter; s1 used gpt-4o-mini as judge "
            "(defaulting to 'A' without it)"
        )


def grader_for(kind: str) -> MathGrader | ChoiceGrader:
    """The default grader for an answer kind: letters A-D for multiple choice, else math.

    Args:
        kind: One of :data:`~tinyreason.evaluation.ANSWER_KINDS` (``"s1-multiple_choice"`` counts
            as multiple choice).

    Raises:
        ConfigError: ``kind`` is not an answer kind.

    Example:
        >>> grader_for("s1-multiple_choice"), grader_for("integer")
        (ChoiceGrader(letters='ABCD'), MathGrader(timeout=5.0))
    """
    base = split_answer_kind(kind)[1]
    return ChoiceGrader(CHOICE_LETTERS) if base == "multiple_choice" else MathGrader()


def describe_grader(grader: object) -> str:
    """One line naming a grader: its ``describe()`` when it has one, else its class.

    Example:
        >>> describe_grader(MathGrader()).startswith("math-verify equivalence")
        True
        >>> class Exact:
        ...     def grade(self, predicted, reference):
        ...         return predicted == reference
        >>> describe_grader(Exact())
        'Exact (a custom grader)'
    """
    from ..interfaces import Describes

    if isinstance(grader, Describes):
        text = grader.describe()
        if isinstance(text, str) and text:
            return text
    return f"{type(grader).__name__} (a custom grader)"


def vote(answers: Sequence[str | None]) -> tuple[str | None, dict[str, float]]:
    """Return the majority answer and each group's share of all answers, largest first.

    Ties go to the group that appeared first; None answers never win.

    Example:
        >>> vote(["3", None, "1/2", "0.5", "3"])
        ('3', {'3': 0.4, '1/2': 0.4})
        >>> vote([None, None])
        (None, {})
    """
    groups = cluster_answers(answers)
    # sorted() is stable and cluster_answers lists groups by first occurrence: equal-size groups
    # keep that order, so the earliest one wins a tie.
    ranked = sorted(groups, key=lambda group: -len(group[1]))
    total = len(answers)
    votes = {answer: len(members) / total for answer, members in ranked}
    return (ranked[0][0] if ranked else None), votes
