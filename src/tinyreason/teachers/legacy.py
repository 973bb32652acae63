"""Replies cached by an older tinyreason (cache schema 1), whose keys did not name the server.

Such a reply may have come from any server that serves a model of that name, so it is never served
to a request by accident: new keys (:func:`~.keys.request_key`) never equal old ones. Before a run
pays for a question whose schema 1 reply is in the cache, :func:`refuse_legacy` stops it with an
error that says how to go on; :func:`adopt` (``teacher.adopt_legacy_replies(cache)``) keeps them,
on the user's word that they came from the teacher's server, by storing them under today's keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ArtifactError
from .base import TeacherRequest
from .cache import ReplyCache
from .keys import legacy_key

if TYPE_CHECKING:
    from .teacher import ProviderTeacher

__all__ = ["adopt", "adopt_cache", "refuse_legacy"]


def refuse_legacy(
    teacher: ProviderTeacher, store: ReplyCache, asked: Sequence[tuple[str, TeacherRequest]]
) -> None:
    """Stop before any call when a question about to be asked has a schema 1 reply in the cache.

    Raises:
        ArtifactError: how many there are, and the two ways on (adopt them, or another cache).
    """
    if not asked:
        return
    exclude = teacher.budget_settings
    old = {legacy_key(teacher.name, request, exclude): key for key, request in asked}
    found = [e for e in store.get_many(old).values() if e.endpoint is None]
    if not found:
        return
    where = teacher.endpoint() or f"{teacher.name}'s default endpoint"
    raise ArtifactError(
        store.path,
        f"{len(found):,} of the questions to ask have replies in this teacher cache from an older "
        "tinyreason (cache schema 1), whose keys did not hold the server's URL: they cannot be "
        f"told apart from another server's replies for a model of the same name "
        f"({teacher.model!r}), so none was used and nothing was paid",
        f"if they came from this teacher's server ({where}), keep them (no call is made): "
        f"teacher.adopt_legacy_replies({str(store.path)!r}), then run again; otherwise pass "
        "another cache=... to ask them again",
    )


def adopt(teacher: ProviderTeacher, store: ReplyCache) -> int:
    """Store the schema 1 replies of ``teacher``'s provider and model under today's keys.

    Only rows whose key is what tinyreason stored for that request are moved (a row it cannot
    account for is left alone). Returns how many moved.
    """
    exclude, server = teacher.budget_settings, teacher.endpoint()
    moves = []
    for entry in store.entries(teacher.name, teacher.model, legacy=True):
        asked = entry.request
        request = TeacherRequest(
            "",
            str(asked.get("question", "")),
            entry.model,
            asked.get("system"),
            dict(asked.get("settings") or {}),
        )
        if legacy_key(teacher.name, request, exclude) != entry.key:
            continue
        moves.append((entry.key, replace(entry, key=teacher.cache_key(request), endpoint=server)))
    return store.rekey(moves)


def adopt_cache(teacher: ProviderTeacher, cache: object) -> int:
    """:func:`adopt` on a cache argument as ``distill`` takes one (a path, a cache, False)."""
    from .planning import open_cache

    store, owned = open_cache(cache)  # type: ignore[arg-type]
    assert store is not None
    try:
        return adopt(teacher, store)
    finally:
        if owned:
            store.close()
