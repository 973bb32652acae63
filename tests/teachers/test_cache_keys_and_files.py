"""What the cache key holds, and the cache file refusing what it cannot trust.

* The key holds the provider, the server (``base_url`` without credentials), the model, the
  messages and the sampling settings: the same model name on two servers never shares a reply.
* The schema version is read before anything is written: a newer file, a file that is not a
  teacher cache, or not SQLite at all, is refused with an error naming it, byte for byte untouched.
* A schema 1 file is migrated; its replies (keys without the server) are never served by accident:
  a run that would ask one of their questions stops before paying, until they are adopted.
* A damaged row is reported with its row id and what to do, never as a raw JSONDecodeError.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.errors import ArtifactError
from tinyreason.teachers._cache_schema import SCHEMA_VERSION
from tinyreason.teachers.base import TeacherRequest
from tinyreason.teachers.cache import CACHE_ENV, ReplyCache
from tinyreason.teachers.keys import endpoint, legacy_key, request_key
from tinyreason.testing import FakeProviderTeacher, ProviderServer

PRICES = {"same-name": {"input": 1.0, "output": 1.0}}


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


# -- the key -------------------------------------------------------------------------------------


def test_the_key_names_the_server_without_credentials() -> None:
    request = TeacherRequest("p1", "What is 6 * 7?", "same-name", "Think.", {"temperature": 0.6})
    a = request_key("openai-compatible", endpoint("http://box-a:8000/v1"), request)
    b = request_key("openai-compatible", endpoint("http://box-b:8000/v1"), request)
    assert a != b
    # Spellings of one server, and its credentials, do not change the key.
    for same in (
        "HTTP://Box-A:8000/v1/",
        "http://user:password@box-a:8000/v1",
        "http://box-a:8000/v1?api_key=sk-abcdefgh12345678",
        "http://box-a:8000/v1?key=AIzaSyA1234567890abcdefghijklmnop",
    ):
        assert request_key("openai-compatible", endpoint(same), request) == a, same
    # Everything that changes a reply does.
    others = [
        request_key("deepseek", endpoint("http://box-a:8000/v1"), request),
        request_key("openai-compatible", endpoint("http://box-a:8000/v2"), request),
    ]
    for changed in (
        TeacherRequest("p1", "What is 6 * 8?", "same-name", "Think.", {"temperature": 0.6}),
        TeacherRequest("p1", "What is 6 * 7?", "other-name", "Think.", {"temperature": 0.6}),
        TeacherRequest("p1", "What is 6 * 7?", "same-name", None, {"temperature": 0.6}),
        TeacherRequest("p1", "What is 6 * 7?", "same-name", "Think.", {"temperature": 0.7}),
        TeacherRequest("p1", "What is 6 * 7?", "same-name", "Think.", {"top_p": 0.9}),
    ):
        others.append(request_key("openai-compatible", endpoint("http://box-a:8000/v1"), changed))
    assert a not in others and len(set(others)) == len(others)
    # The problem id does not: the same question under two ids is one paid answer.
    again = TeacherRequest("p2", "What is 6 * 7?", "same-name", "Think.", {"temperature": 0.6})
    assert request_key("openai-compatible", endpoint("http://box-a:8000/v1"), again) == a


def test_no_secret_reaches_the_endpoint() -> None:
    url = endpoint("https://u:hunter2hunter2@gw.example/v1/sk-abcdefghijkl?token=t0p&x=1")
    assert "hunter2" not in url and "sk-abcdefghijkl" not in url and "t0p" not in url
    assert url.startswith("https://gw.example/v1/") and url.endswith("?x=1")


def test_a_teachers_key_follows_its_base_url() -> None:
    problem = [tr.Problem("p1", "What is 6 * 7?")]
    default = FakeProviderTeacher().requests(problem)[0][0]
    a = FakeProviderTeacher(base_url="http://a/v1").requests(problem)[0][0]
    a_with_key = FakeProviderTeacher(base_url="http://a/v1", api_key="k-123456").requests(problem)
    b = FakeProviderTeacher(base_url="http://b/v1").requests(problem)[0][0]
    assert len({default, a, b}) == 3 and a_with_key[0][0] == a


def test_the_same_model_name_on_two_servers_never_shares_a_reply(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    problems = [tr.Problem(f"p{i}", f"Question {i}?") for i in range(5)]
    with (
        ProviderServer(default=lambda q: "from A") as a,
        ProviderServer(default=lambda q: "from B") as b,
    ):
        answers = {}
        for name, server in (("a", a), ("b", b), ("a again", a)):
            teacher = tr.teacher(
                "openai-compatible",
                model="same-name",
                base_url=server.base_url + "/v1",
                prices=PRICES,
            )
            ds = teacher.distill(problems, cache=cache, progress=False)
            answers[name] = set(ds["attempt"])
        asked = (len(a.requests), len(b.requests))
        urls = {a.base_url + "/v1", b.base_url + "/v1"}
    assert answers == {"a": {"from A"}, "b": {"from B"}, "a again": {"from A"}}
    assert asked == (5, 5)  # B was asked although A's replies were cached; A not twice
    with ReplyCache(cache) as store:
        assert len(store) == 10
        assert {e.endpoint for e in store.entries()} == urls


# -- the file: version before anything is written ------------------------------------------------


def _newer_cache(path: Path) -> None:
    with ReplyCache(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()  # the last connection: SQLite folds the WAL back in and removes -wal and -shm


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (_newer_cache, "written by a newer tinyreason"),
        (lambda p: p.write_text("not a database, just my notes\n"), "not an SQLite file"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE mine (x)").connection.commit(),
            r"holds the tables \['mine'\]",
        ),
    ],
    ids=["newer", "text", "other-sqlite"],
)
def test_a_file_it_cannot_trust_is_refused_untouched(
    tmp_path: Path, make: object, match: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "cache.sqlite"
    make(path)  # type: ignore[operator]
    before = _digest(folder)
    teacher = FakeProviderTeacher()
    with pytest.raises(ArtifactError, match=match) as caught:
        teacher.distill([tr.Problem("p1", "Q?")], cache=path, progress=False)
    assert str(path) in str(caught.value) and "left untouched" in str(caught.value)
    assert "JSONDecodeError" not in str(caught.value)
    assert _digest(folder) == before  # not even a -wal or -shm file
    assert teacher.stats.total == 0


# -- schema 1 files: migrated, their replies adopted on purpose ----------------------------------

_V1_SCHEMA = """
CREATE TABLE replies (
    key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), finish_reason TEXT NOT NULL,
    reply TEXT, reason TEXT, message TEXT, input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0, thinking_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL, attempts INTEGER NOT NULL DEFAULT 1, request TEXT, created REAL NOT NULL
);
CREATE INDEX replies_by_model ON replies (provider, model);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '1');
"""


def _v1_cache(path: Path, teacher: FakeProviderTeacher, questions: list[str]) -> None:
    """A cache as tinyreason wrote it before the server was in the key (schema 1)."""
    conn = sqlite3.connect(path)
    conn.executescript(_V1_SCHEMA)
    for question in questions:
        request = TeacherRequest("", question, teacher.model, None, teacher.settings())  # type: ignore[arg-type]
        reply = {"thinking": "old", "answer": f"old {question}", "thinking_kind": "raw"}
        conn.execute(
            "INSERT INTO replies (key, provider, model, status, finish_reason, reply, request, "
            "created) VALUES (?, ?, ?, 'ok', 'stop', ?, ?, ?)",
            (
                legacy_key(teacher.name, request, teacher.budget_settings),
                teacher.name,
                teacher.model,
                json.dumps({**reply, "finish_reason": "stop", "model": "m"}),
                json.dumps({"question": question, "system": None, "settings": {}}),
                time.time(),
            ),
        )
    conn.commit()
    conn.close()


def test_a_schema_1_cache_is_migrated_and_its_replies_are_adopted_on_purpose(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    problems = [tr.Problem(f"p{i}", f"Question {i}?") for i in range(4)]
    teacher = FakeProviderTeacher()
    _v1_cache(path, teacher, [p.question for p in problems[:3]])

    # Never served by accident, never paid for silently: the run stops before any call.
    with pytest.raises(ArtifactError, match=r"3 of the questions to ask have replies") as caught:
        teacher.distill(problems, cache=path, progress=False)
    assert "adopt_legacy_replies" in str(caught.value) and str(path) in str(caught.value)
    assert teacher.stats.total == 0
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
    conn.close()

    assert teacher.adopt_legacy_replies(path) == 3
    ds = teacher.distill(problems, cache=path, progress=False)
    assert ds["attempt"][:3] == [f"old Question {i}?" for i in range(3)]
    assert teacher.stats.total == 1  # only the question the old cache did not have
    assert teacher.adopt_legacy_replies(path) == 0  # nothing left to adopt


def test_another_servers_run_on_a_schema_1_cache_can_start_a_new_file(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    teacher = FakeProviderTeacher()
    _v1_cache(old, teacher, ["Question 0?"])
    other = FakeProviderTeacher(base_url="http://elsewhere/v1")
    with pytest.raises(ArtifactError, match="http://elsewhere/v1"):
        other.distill([tr.Problem("p", "Question 0?")], cache=old, progress=False)
    ds = other.distill([tr.Problem("p", "Question 0?")], cache=tmp_path / "new.sqlite")
    assert ds["error"] == [None] and other.stats.total == 1


# -- damaged rows ----------------------------------------------------------------------------------


def test_a_damaged_row_is_reported_with_its_id_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    problems = [tr.Problem(f"p{i}", f"Question {i}?") for i in range(3)]
    FakeProviderTeacher().distill(problems, cache=path, progress=False)
    conn = sqlite3.connect(path)
    rowid, key = conn.execute("SELECT rowid, key FROM replies ORDER BY rowid").fetchall()[1]
    conn.execute("UPDATE replies SET reply = ? WHERE rowid = ?", ('{"thinking": "cut sh', rowid))
    conn.commit()
    conn.close()

    teacher = FakeProviderTeacher()
    with pytest.raises(ArtifactError) as caught:
        teacher.distill(problems, cache=path, progress=False)
    message = str(caught.value)
    assert f"row {rowid} (key {key[:16]}" in message and str(path) in message
    assert "not valid JSON" in message and f".delete([{key!r}])" in message
    assert caught.value.__cause__ is None and teacher.stats.total == 0

    with ReplyCache(path) as store:
        [(found_id, found_key, what)] = store.damaged()
        assert (found_id, found_key) == (rowid, key) and "not valid JSON" in what
        assert store.delete([key]) == 1 and store.damaged() == []
    ds = teacher.distill(problems, cache=path, progress=False)
    assert all(e is None for e in ds["error"]) and teacher.stats.total == 1  # asked again


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("reply", '{"answer": "42"}', "'thinking' is missing"),
        ("reply", '["a", "list"]', "TypeError"),
        ("request", "{broken", "not valid JSON"),
    ],
)
def test_other_damage_is_reported_too(tmp_path: Path, column: str, value: str, what: str) -> None:
    path = tmp_path / "c.sqlite"
    FakeProviderTeacher().distill([tr.Problem("p", "Q?")], cache=path, progress=False)
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE replies SET {column} = ?", (value,))
    conn.commit()
    conn.close()
    with ReplyCache(path) as store, pytest.raises(ArtifactError, match="row 1 ") as caught:
        store.entries()
    assert what in str(caught.value)
