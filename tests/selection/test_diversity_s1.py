import json
from collections import Counter
from importlib.resources import files

import numpy as np
import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.selection import s1_include_first
from tinyreason.selection.domains import (
    UNCLASSIFIED,
    EmbeddingDomainClassifier,
    LLMDomainClassifier,
    domain_scheme,
    load_msc,
)
from tinyreason.teachers.base import TeacherReply


def _pool(n=120, domains=("algebra", "geometry", "combinatorics"), seed=0):
    rng = np.random.default_rng(seed)
    sources = ["qq8933/AIME_1983_2024", "Idavidrein/gpqa", "qfq/openaimath", "numina"]
    return Dataset.from_dict(
        {
            "id": [f"r{i}" for i in range(n)],
            "question": [f"Question number {i}?" for i in range(n)],
            "domain": [domains[i % len(domains)] for i in range(n)],
            "source_type": [sources[i % 4] for i in range(n)],
            "trace_tokens": rng.integers(100, 9000, size=n).tolist(),
            "teacher_correct": (np.arange(n) % 3 == 0).tolist(),
        }
    )


def test_msc_list_ships_all_63_two_digit_codes_including_s1s_61():
    data = json.loads(files("tinyreason").joinpath("data/msc.json").read_text())
    codes = [c["code"] for c in data["codes"]]
    assert len(codes) == 63 == len(set(codes))
    assert all(len(c) == 2 and c.isdigit() for c in codes)
    s1 = {"03", "05", "06", "08", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20",
          "22", "26", "28", "30", "31", "32", "33", "34", "35", "37", "39", "40", "41", "42",
          "43", "44", "45", "46", "47", "49", "51", "52", "53", "54", "55", "57", "58", "60",
          "62", "65", "68", "70", "74", "76", "78", "80", "81", "82", "83", "85", "86", "90",
          "91", "92", "93", "94", "97"}  # fmt: skip
    assert len(s1) == 61 and s1 <= set(codes) and set(codes) - s1 == {"00", "01"}
    assert {d.code: d.title for d in load_msc()}["05"] == "Combinatorics"
    assert all(d.description for d in load_msc())


def test_domain_schemes():
    assert len(domain_scheme("msc")) == 63
    assert [d.code for d in domain_scheme({"a": "x"})] == ["a"]
    with pytest.raises(tr.ConfigError, match="unknown domain scheme 'acm'"):
        domain_scheme("acm")
    with pytest.raises(tr.ConfigError, match="unknown domain scheme"):
        tr.selector("diversity", classifier="msc-embedding", classifier_options={"scheme": "acm"})
    with pytest.raises(tr.ConfigError, match="unknown domain classifier 'nope'"):
        tr.selector("diversity", classifier="nope")
    with pytest.raises(tr.ConfigError, match="needs a teacher"):
        tr.selector("diversity", classifier="msc-llm")


def test_llm_classifier_labels_through_a_teacher_and_caches(tmp_path):
    questions = ["How many subsets does a 5-element set have?", "Is 91 prime?"]
    classifier = LLMDomainClassifier(teacher="fake", cache=tmp_path / "c.sqlite")
    replies = {
        classifier.prompt(questions[0]): TeacherReply("", "Counting.\n05", "raw"),
        classifier.prompt(questions[1]): TeacherReply("", "Primes: **11**", "raw"),
    }
    teacher = tr.teacher("fake-api", replies=replies)
    classifier = LLMDomainClassifier(teacher=teacher, cache=tmp_path / "c.sqlite")
    assert classifier.classify(questions) == ["Combinatorics", "Number theory"]
    assert classifier.classify(questions) == ["Combinatorics", "Number theory"]
    assert teacher.stats.total == 2  # the second run came from the cache
    assert classifier.parse("I think it is 99") == UNCLASSIFIED
    assert "### Number theory\n* Code: 11" in classifier.prompt("q")


def test_diversity_classifies_missing_labels_and_reuses_stored_ones():
    pool = _pool(12).remove_columns(["domain"])
    teacher = tr.testing.FakeTeacher()
    for code in ["05", "11", "51"] * 4:
        teacher.enqueue("", code)
    selector = tr.selector(
        "diversity", k=6, classifier="msc-llm", classifier_options={"teacher": teacher}
    )
    sel = tr.select(pool, selector)
    assert set(sel.kept["domain"]) <= {"Combinatorics", "Number theory", "Geometry"}
    assert sel.stages[0].info["classifier"] == "msc-llm"
    assert sel.domain_column() == "domain"
    assert len(teacher.history) == 1
    # Rows with a label are not asked again.
    tr.select(sel.kept, tr.selector("diversity", k=6, classifier="msc-llm",
                                    classifier_options={"teacher": teacher}))  # fmt: skip
    assert len(teacher.history) == 1


class ByKeyword:
    name = "keywords"

    def classify(self, questions):
        return ["even" if int(q.split()[2].rstrip("?")) % 2 == 0 else "odd" for q in questions]


def test_diversity_takes_any_classifier_object():
    pool = _pool(20).remove_columns(["domain"])
    sel = tr.select(pool, tr.selector("diversity", k=10, classifier=ByKeyword()))
    assert set(sel.kept["domain"]) == {"even", "odd"} and len(sel.kept) == 10
    assert sel.stages[0].info["classifier"] == "keywords"
    with pytest.raises(tr.ConfigError, match="classifier must be"):
        tr.selector("diversity", classifier=42)


def test_embedding_classifier_picks_the_nearest_label_and_checks_dimensions(monkeypatch):
    classifier = EmbeddingDomainClassifier(scheme={"cats": "felines", "dogs": "canines"})
    monkeypatch.setattr(
        EmbeddingDomainClassifier, "label_vectors", lambda self: np.eye(2, dtype=np.float32)
    )
    vectors = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    assert classifier.classify(["a", "b"], embeddings=vectors) == ["cats", "dogs"]
    with pytest.raises(tr.DataError, match="dimensions"):
        classifier.classify(["a"], embeddings=np.ones((1, 3)))


def test_include_first_rules_and_s1s_helper():
    pool = _pool(120)
    rules = s1_include_first()
    sel = tr.select(pool, tr.selector("diversity", k=60, domain_column="domain",
                                      include_first=rules))  # fmt: skip
    rows = pool.to_list()
    expected = [
        r["id"]
        for r in rows
        if r["teacher_correct"]
        and (
            "aime" in r["source_type"].lower()
            or "gpqa" in r["source_type"].lower()
            or ("openaimath" in r["source_type"] and r["trace_tokens"] > 5600)
        )
    ]
    assert list(sel.kept["id"])[: len(expected)] == expected  # kept first, in input order
    assert sel.stages[0].info["included_first"] == len(expected)
    # A predicate rule and a plain column rule.
    sel = tr.select(
        pool,
        tr.selector("diversity", k=10, domain_column="domain",
                    include_first=[lambda row: row["id"] == "r7", {"id": ["r3", "r5"]}]),
    )  # fmt: skip
    assert list(sel.kept["id"])[:3] == ["r3", "r5", "r7"]
    with pytest.raises(tr.ConfigError, match="more than k=2"):
        tr.select(pool, tr.selector("diversity", k=2, domain_column="domain",
                                    include_first=[{"domain": "algebra"}]))  # fmt: skip
    with pytest.raises(tr.DataError, match=r"needs the column\(s\) \['nope'\]"):
        tr.select(pool, tr.selector("diversity", k=2, domain_column="domain",
                                    include_first=[{"nope": 1}]))  # fmt: skip


def test_switch_to_benchmark_domains_after_n_rows():
    n = 400
    pool = Dataset.from_dict(
        {
            "id": [f"r{i}" for i in range(n)],
            "domain": ["rare" if i < 40 else f"d{i % 8}" for i in range(n)],
            # Only the 'rare' domain holds AIME questions: after the switch, draw only from it.
            "source_type": ["AIME" if i < 40 else "other" for i in range(n)],
            "trace_tokens": [100] * n,
        }
    )
    uniform = tr.select(pool, tr.selector("diversity", k=60, domain_column="domain"))
    switched = tr.select(
        pool, tr.selector("diversity", k=60, domain_column="domain", switch_after=20)
    )
    late = list(switched.kept["domain"])[20:]
    assert late.count("rare") == 40 - list(switched.kept["domain"])[:20].count("rare")
    assert Counter(uniform.kept["domain"])["rare"] < 15
    assert switched.stages[0].info["switch_after"] == 20


def test_quality_select_matches_its_row_rule_on_every_kind_of_row():
    rng = np.random.default_rng(0)
    questions = [
        "Plain question?", "Uses [asy] code", "See ![Image](x)", "step1. then", "p12. Find",
        "**Bold 3**", "**x** and then 5", "**x**\nthen 5", "",
    ]  # fmt: skip
    rows = []
    for i in range(300):
        rows.append(
            {
                "id": f"r{i}",
                "question": questions[rng.integers(len(questions))],
                "thinking_trajectories": [["", " ", "ok"][rng.integers(3)]],
                "attempt": ["", "4", " "][rng.integers(3)],
                "finish_reason": ["stop", "length", None][rng.integers(3)],
                "error": [None, "", "HTTP 500"][rng.integers(3)],
                "source_type": ["AIME 2020", "numina", None][rng.integers(3)],
                "answer": "4",
            }
        )
    selector = tr.selector("quality", require_correct=True)
    sel = tr.select(Dataset.from_list(rows), selector)
    by_id = dict(zip(sel.dropped["id"], sel.dropped["reason"], strict=True))
    for row in rows:
        assert by_id.get(row["id"]) == selector.reason(row), row


def test_s1_formatting_patterns_are_s1s_exact_rules():
    from tinyreason.selection.quality import S1_PATTERNS

    quality = tr.selector("quality")
    base = {"thinking_trajectories": ["t"], "attempt": "a"}

    def reason(question, source="x"):
        return quality.reason(base | {"question": question, "source_type": source})

    assert reason("Compute step1. first") == "format:numbering"  # s1: a plain substring test
    assert reason("p1000. is fine") is None and reason("p0. too") is None
    assert reason("**Note:** see 3 below") == "format:bold-digits"
    assert reason("**Note:**\nsee 3 below") is None  # the digit must be on the same line
    assert reason("** spaced ** 3") is None
    assert reason("[asy] x", source="qq8933/AIME_1983_2024") is None
    assert reason("![Image](a.png)") == "format:image" and reason("![fig](a.png)") is None
    more = tr.selector("quality", patterns={**S1_PATTERNS, **tr.selection.MORE_PATTERNS})
    assert more.reason(base | {"question": "![fig](a.png)"}) == "format:markdown-image"
