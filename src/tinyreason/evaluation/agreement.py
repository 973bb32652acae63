"""Two graders side by side: where grading the extracted answer and the whole response disagree.

tinyreason grades the answer it extracted (s1's rules); open-r1 and lighteval hand the whole
response to math-verify and let it find the answer. :func:`grader_agreement` grades every sample
of a report both ways and lists where they disagree, so two sets of numbers can be reconciled.

Example:
    >>> from tinyreason.answers import FullTextGrader, MathGrader
    >>> from tinyreason.records import Generation, Problem, Solution
    >>> from tinyreason.evaluation.report import Report, SettingResult
    >>> text = "Answer: 3 where $x=4$"
    >>> g = Generation(text=text, thinking="", answer_text=text, thinking_tokens=0,
    ...                answer_tokens=8)
    >>> p = Problem("p1", "x?", answer="3")
    >>> setting = SettingResult("budget=None", None, (0.0, None), (p,),
    ...     (Solution("p1", "3", (g,)),), (True,), ((True,),))
    >>> agreement = grader_agreement(Report("toy", (setting,)), FullTextGrader())
    >>> agreement["disagree"], agreement["rows"][0]["extracted_correct"]
    (1, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..answers import describe_grader
from ..interfaces import Grader

if TYPE_CHECKING:
    from .report import Report

__all__ = ["grader_agreement"]


def grader_agreement(report: Report, grader: Grader) -> dict[str, Any]:
    """Grade every sample's whole response with ``grader`` beside the report's own grades.

    Args:
        report: A finished report (its solutions hold every sample's text).
        grader: The second grader, given each sample's full generated text (e.g.
            :class:`~tinyreason.answers.FullTextGrader`).

    Returns:
        ``samples`` graded, ``agree`` / ``disagree`` counts, per setting ``by_setting``
        (``label``, ``accuracy`` of each grader over the samples, ``disagree``), ``grader``
        (what the second grader is), and ``rows``: each disagreement (setting, problem id,
        sample, extracted answer, reference, both verdicts, the response's last 200 characters).
    """
    rows: list[dict[str, Any]] = []
    by_setting = []
    total = agree = 0
    for setting in report.settings:
        ours = theirs = differ = 0
        for problem, solution, per_sample in zip(
            setting.problems, setting.solutions, setting.sample_correct, strict=True
        ):
            reference = str(problem.answer) if problem.answer is not None else ""
            for index, (generation, extracted_ok) in enumerate(
                zip(solution.generations, per_sample, strict=False)
            ):
                full_ok = bool(grader.grade(generation.text, reference))
                total += 1
                ours += bool(extracted_ok)
                theirs += full_ok
                if full_ok == bool(extracted_ok):
                    agree += 1
                    continue
                differ += 1
                rows.append(
                    {
                        "setting": setting.label,
                        "problem_id": problem.id,
                        "sample": index,
                        "reference": reference,
                        "extracted_correct": bool(extracted_ok),
                        "full_text_correct": full_ok,
                        "response_end": generation.text[-200:],
                    }
                )
        samples = sum(len(per) for per in setting.sample_correct)
        by_setting.append(
            {
                "label": setting.label,
                "extracted_accuracy": 100 * ours / samples if samples else 0.0,
                "full_text_accuracy": 100 * theirs / samples if samples else 0.0,
                "disagree": differ,
            }
        )
    return {
        "grader": describe_grader(grader),
        "samples": total,
        "agree": agree,
        "disagree": total - agree,
        "by_setting": by_setting,
        "rows": rows,
    }
