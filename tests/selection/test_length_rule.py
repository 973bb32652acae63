"""s1's length rule: rank traces by the thinking's length in the student's tokenizer.

s1 (``data/featurization.py``: ``gemini_length``) measured every trace with Qwen's tokenizer; the
diversity stage favours long traces by that count, not by the tokens a teacher billed.
"""

from collections import Counter

import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.selection.diversity import trace_length
from tinyreason.testing import tiny_tokenizer

REPETITIVE = "abcabcabc" * 40  # many characters, few tokens once the tokenizer has seen it
DENSE = "Zq9 x7 Kp2 wY4 Jm8 Vb3 " * 4  # fewer characters, many tokens


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer([REPETITIVE] * 50)


def _pool():
    """Two traces in one domain whose order by characters and by tokens disagree."""
    rows = [
        {"id": "repetitive", "thinking": REPETITIVE, "billed": 5000},
        {"id": "dense", "thinking": DENSE, "billed": 10},
    ]
    return Dataset.from_list(
        [
            {
                "id": r["id"],
                "question": f"Question {r['id']}?",
                "cot_type": "math",
                "thinking_trajectories": [r["thinking"]],
                "attempt": "Answer: 1",
                "usage": {"input_tokens": 1, "output_tokens": 1, "thinking_tokens": r["billed"]},
            }
            for r in rows
        ]
    )


def _first_picks(pool, seeds=60, **options):
    """How often each row is drawn first: rank 0 is drawn twice as often as rank 1."""
    picks = Counter()
    for seed in range(seeds):
        sel = tr.select(pool, tr.selector("diversity", k=1, seed=seed, **options))
        picks[sel.kept["id"][0]] += 1
    return picks


def test_preconditions_characters_and_tokens_disagree(tokenizer):
    chars = {t: len(t) for t in (REPETITIVE, DENSE)}
    tokens = {t: len(tokenizer.encode(t, add_special_tokens=False)) for t in (REPETITIVE, DENSE)}
    assert chars[REPETITIVE] > chars[DENSE] and tokens[REPETITIVE] < tokens[DENSE]


def test_diversity_ranks_by_the_students_tokenizer(tokenizer):
    pool = _pool()
    by_tokens = _first_picks(pool, tokenizer=tokenizer)
    assert by_tokens["dense"] > 1.5 * by_tokens["repetitive"]
    by_characters = _first_picks(pool)  # no tokenizer: the thinking's characters
    assert by_characters["repetitive"] > 1.5 * by_characters["dense"]
    by_billed = _first_picks(pool, length="billed")  # the earlier default
    assert by_billed["repetitive"] > 1.5 * by_billed["dense"]


def test_the_count_is_stored_and_reported(tokenizer):
    pool = _pool()
    sel = tr.select(pool, tr.selector("diversity", k=2, seed=0, tokenizer=tokenizer))
    counts = {r["id"]: r["trace_tokens"] for r in sel.kept}
    assert counts == {
        "repetitive": len(tokenizer.encode(REPETITIVE, add_special_tokens=False)),
        "dense": len(tokenizer.encode(DENSE, add_special_tokens=False)),
    }
    label = f"tokenizer:{tokenizer.name_or_path or type(tokenizer).__name__}"
    assert sel.stages[-1].info["length"] == label
    summary = sel.summary()
    assert summary["lengths"]["source"] == f"trace_tokens ({label})"
    assert f"lengths: trace_tokens ({label})" in repr(sel)
    plain = tr.select(pool, tr.selector("diversity", k=2, seed=0))
    assert plain.stages[-1].info["length"] == "characters"
    assert "trace_tokens" not in plain.kept.column_names
    billed = tr.select(pool, tr.selector("diversity", k=2, seed=0, length="billed"))
    assert billed.stages[-1].info["length"] == "usage.thinking_tokens"


def test_a_stored_count_is_read_and_a_tokenizer_recounts(tokenizer):
    pool = _pool().add_column("trace_tokens", [1, 999])  # e.g. the difficulty stage's
    sel = tr.select(pool, tr.selector("diversity", k=2, seed=0))
    assert sel.stages[-1].info["length"] == "trace_tokens"
    assert _first_picks(pool)["dense"] > 30
    recounted = tr.select(pool, tr.selector("diversity", k=2, seed=0, tokenizer=tokenizer))
    recount = {r["id"]: r["trace_tokens"] for r in recounted.kept}
    assert recount["repetitive"] == len(tokenizer.encode(REPETITIVE, add_special_tokens=False))


def test_include_first_rules_read_the_tokenizer_count(tokenizer):
    pool = _pool().add_column("teacher_correct", [True, True])
    pool = pool.add_column("source_type", ["qfq/openaimath", "qfq/openaimath"])
    rules = tr.selection.s1_include_first(min_length=50)  # MATH rows with traces over 50 tokens
    sel = tr.select(
        pool,
        tr.selector("diversity", k=1, seed=0, tokenizer=tokenizer, include_first=rules),
    )
    assert sel.kept["id"] == ["dense"]  # 88 tokens; the repetitive trace is one token long


def test_trace_length_of_one_row(tokenizer):
    row = _pool()[0]
    assert trace_length(row) == len(REPETITIVE)
    assert trace_length(row, length="billed") == 5000
    assert trace_length(row, tokenizer=tokenizer) == len(
        tokenizer.encode(REPETITIVE, add_special_tokens=False)
    )


def test_length_settings_are_checked():
    with pytest.raises(tr.ConfigError, match=r"length must be one of 'tokenizer', 'billed'"):
        tr.selector("diversity", length="words")
    with pytest.raises(tr.ConfigError, match=r"tokenizer= only applies to length='tokenizer'"):
        tr.selector("diversity", length="billed", tokenizer=len)
    with pytest.raises(tr.ConfigError, match=r"length_column= .* or tokenizer= .*, not both"):
        tr.selector("diversity", length_column="n", tokenizer=len)
    with pytest.raises(tr.ConfigError, match=r"tokenizer must be a Hugging Face tokenizer"):
        tr.selector("diversity", tokenizer=3)
