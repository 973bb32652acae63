import json
import random

import numpy as np
import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.selection.decontaminate import ContaminationIndex, load_benchmark_questions
from tinyreason.selection.dedup import minhash_signatures, near_duplicates

AIME = "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^20."


def _train(questions):
    return Dataset.from_dict(
        {"id": [f"t{i}" for i in range(len(questions))], "question": list(questions)}
    )


def test_decontaminate_drops_shared_8_grams_and_names_the_benchmark():
    train = _train(
        [
            "Let us FIND the number   of ordered\npairs of positive integers with x + y = 10.",
            "Find the number of ordered pairs of integers.",  # 7 shared words: not 8
            "A fresh question about triangles.",
            AIME.upper(),
        ]
    )
    sel = tr.select(
        train, tr.selector("decontaminate", benchmarks={"aime24": [AIME], "other": ["Hello?"]})
    )
    assert list(sel.kept["id"]) == ["t1", "t2"]
    assert list(sel.dropped["reason"]) == ["contaminated:aime24"] * 2
    assert sel.dropped["detail"][0] == (
        "8-gram 'find the number of ordered pairs of positive' (aime24 #0)"
    )
    assert sel.dropped["detail"][1] == "same question as aime24 #0"
    assert sel.stages[0].info["benchmarks"] == {"aime24": 1, "other": 1}


def test_short_questions_match_exactly_unless_turned_off():
    train = _train(["What is 6 * 7?", "what  is 6 * 7?", "What is 6 * 8?"])
    bench = {"toy": ["What is 6 * 7?"]}
    sel = tr.select(train, tr.selector("decontaminate", benchmarks=bench))
    assert list(sel.kept["id"]) == ["t2"]
    off = tr.select(train, tr.selector("decontaminate", benchmarks=bench, exact=False))
    assert len(off.kept) == 3  # s1's rule alone: fewer than 8 words never match


def test_benchmarks_by_name_object_file_and_list(tmp_path):
    arithmetic = tr.benchmark("arithmetic", n=5)
    question = arithmetic.problems()[0].question
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"problem": AIME, "answer": "1"}) + "\n")
    found = load_benchmark_questions(["arithmetic", arithmetic, str(path), {"list": ["q?"]}])
    assert set(found) == {"arithmetic", "mine", "list"}
    assert found["arithmetic"][0] == question and len(found["arithmetic"]) == 205
    assert found["mine"] == [AIME]
    train = _train([question, AIME, "clean"])
    sel = tr.select(train, tr.selector("decontaminate", benchmarks=[arithmetic, path]))
    assert list(sel.dropped["reason"]) == ["contaminated:arithmetic", "contaminated:mine"]
    with pytest.raises(tr.ConfigError, match="needs benchmarks"):
        tr.selector("decontaminate")
    with pytest.raises(tr.ConfigError, match="a benchmark is a name"):
        load_benchmark_questions([42])
    with pytest.raises(tr.UnknownPluginError, match="unknown benchmark 'aime42'"):
        load_benchmark_questions("aime42")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(tr.DataError, match="no question column"):
        load_benchmark_questions(bad)
    with pytest.raises(tr.DataError, match=r"'decontaminate' needs the column\(s\) \['prompt'\]"):
        tr.select(train, tr.selector("decontaminate", benchmarks=[AIME and path], column="prompt"))


def test_vectorised_matching_agrees_with_the_row_rule():
    rng = random.Random(0)
    words = ["a", "b", "c"]  # a tiny vocabulary: many accidental 8-gram hits
    bench = [" ".join(rng.choices(words, k=rng.randint(3, 30))) for _ in range(30)]
    train = [" ".join(rng.choices(words, k=rng.randint(0, 30))) for _ in range(600)]
    train += [b.upper() for b in bench[:5]] + ["  " + bench[0].replace(" ", "\t ") + " "]
    index = ContaminationIndex({"b": bench})
    assert index.match_many(train) == [index.match(t) for t in train]
    assert sum(m is not None for m in index.match_many(train)) > 20


def test_exact_dedup_keeps_the_first_and_names_it():
    pool = _train(["Q one", "Q two", "Q one", "q  ONE", "Q two"])
    sel = tr.select(pool, tr.selector("dedup"))
    assert list(sel.kept["id"]) == ["t0", "t1", "t3"]
    assert list(sel.dropped["detail"]) == ["same as t0", "same as t1"]
    assert set(sel.dropped["reason"]) == {"duplicate"}
    normalized = tr.select(pool, tr.selector("dedup", normalize=True))
    assert list(normalized.kept["id"]) == ["t0", "t1"]


def test_minhash_finds_near_duplicates():
    rng = random.Random(1)
    words = [f"word{i}" for i in range(2000)]
    base = [" ".join(rng.choices(words, k=60)) for _ in range(50)]
    edited = []
    for text in base[:10]:  # the first word changed: Jaccard of 5-word shingles 55/57
        tokens = text.split()
        tokens[0] = "changed"
        edited.append(" ".join(tokens))
    pool = _train(base + edited + ["tiny", "tiny"])
    sel = tr.select(pool, tr.selector("dedup", method="minhash"))
    dropped = dict(zip(sel.dropped["id"], sel.dropped["detail"], strict=True))
    assert set(dropped) == {f"t{i}" for i in range(50, 60)} | {"t61"}
    assert dropped["t50"].endswith("similar to t0")
    assert set(sel.dropped["reason"]) == {"near_duplicate:minhash"}
    signatures = minhash_signatures(["a b c d e f", "a b c d e f"], num_perm=32)
    assert near_duplicates(signatures, 0.9)[1] == (1, 0, 1.0)


def test_embedding_dedup_with_given_vectors():
    vectors = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.999, 0.03]], dtype=np.float32)
    pool = _train(["a", "b", "c", "d"])
    sel = tr.select(pool, tr.selector("dedup", method="embedding", embeddings=vectors))
    assert list(sel.kept["id"]) == ["t0", "t2"]
    assert sel.dropped["detail"][0].endswith("similar to t0")
    loose = tr.select(
        pool, tr.selector("dedup", method="embedding", embeddings=vectors, threshold=0.999)
    )
    assert list(loose.kept["id"]) == ["t0", "t1", "t2"]


def test_dedup_options_are_checked():
    with pytest.raises(tr.ConfigError, match="method must be one of"):
        tr.selector("dedup", method="fuzzy")
    with pytest.raises(tr.ConfigError, match=r"threshold must be in \(0, 1\]"):
        tr.selector("dedup", method="minhash", threshold=1.5)
