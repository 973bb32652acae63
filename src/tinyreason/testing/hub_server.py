"""A loopback Hugging Face Hub, for testing a push through huggingface_hub itself.

It holds enough of the Hub's HTTP API for ``HfApi.create_repo`` and ``HfApi.create_commit``.

It answers ``POST /api/repos/create``, ``POST /api/validate-yaml`` (a card's front matter),
``POST /api/{type}s/{repo}/preupload/{rev}`` (every file ``regular``: uploaded inline, no LFS)
and ``POST /api/{type}s/{repo}/commit/{rev}`` (the NDJSON commit). It keeps each repo's files in
memory (:attr:`HubServer.repos`) and the token each request carried (:attr:`HubServer.tokens`);
with ``accept=`` it answers 401 to any other token, as the Hub does to a bad one.

Example:
    >>> from huggingface_hub import CommitOperationAdd, HfApi
    >>> from huggingface_hub import constants
    >>> offline, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, False
    >>> with HubServer() as hub:
    ...     api = HfApi(endpoint=hub.base_url, token="hf_test")
    ...     _ = api.create_repo("me/data", repo_type="dataset", private=True)
    ...     _ = api.create_commit("me/data", [CommitOperationAdd("a.txt", b"hi")],
    ...                           commit_message="add", repo_type="dataset")
    ...     hub.repos["datasets/me/data"].files, hub.repos["datasets/me/data"].private
    ({'a.txt': b'hi'}, True)
    >>> constants.HF_HUB_OFFLINE = offline
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field

from .loopback import LoopbackServer, Request, Response

__all__ = ["HubRepo", "HubServer"]

_PREUPLOAD = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/preupload/([^/]+)$")
_COMMIT = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/commit/([^/]+)$")


@dataclass
class HubRepo:
    """One repo the server holds: its files, whether private, and its commits' messages."""

    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


class HubServer(LoopbackServer):
    """A loopback Hub for ``HfApi(endpoint=server.base_url)``."""

    def __init__(self, accept: set[str] | None = None) -> None:
        super().__init__()
        self.accept = accept
        self.repos: dict[str, HubRepo] = {}
        self.tokens: list[str | None] = []

    def respond(self, request: Request) -> Response:
        auth = request.headers.get("authorization")
        token = auth.removeprefix("Bearer ") if auth else None
        self.tokens.append(token)
        if self.accept is not None and token not in self.accept:
            return Response.json(401, {"error": "Invalid credentials in Authorization header"})
        route = request.route
        if request.method == "POST" and route == "/api/repos/create":
            return self._create(request.json() or {})
        if request.method == "POST" and route == "/api/validate-yaml":
            return self._validate((request.json() or {}).get("content", ""))
        found = _PREUPLOAD.match(route)
        if request.method == "POST" and found:
            files = (request.json() or {}).get("files", [])
            modes = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
            ]
            return Response.json(200, {"files": modes})
        found = _COMMIT.match(route)
        if request.method == "POST" and found:
            return self._commit(f"{found.group(1)}/{found.group(2)}", request.body)
        return Response.json(404, {"error": f"no route {request.method} {route}"})

    def _create(self, payload: dict[str, object]) -> Response:
        kind = str(payload.get("type") or "model")
        owner = payload.get("organization") or "me"
        repo_id = f"{owner}/{payload.get('name')}"
        key = f"{kind}s/{repo_id}"
        if key in self.repos:
            return Response.json(409, {"error": "You already created this repo"})
        # huggingface_hub 1.x sends visibility ("private" / "public"); older ones private: bool.
        private = payload.get("visibility") == "private" or payload.get("private") is True
        self.repos[key] = HubRepo(private=private)
        prefix = "" if kind == "model" else f"{kind}s/"
        return Response.json(200, {"url": f"{self.base_url}/{prefix}{repo_id}"})

    def _validate(self, content: str) -> Response:
        """The card's front matter must be a YAML mapping (the Hub checks much more)."""
        import yaml

        errors = []
        if content.startswith("---"):
            front = content.split("---", 2)[1] if content.count("---") >= 2 else ""
            try:
                data = yaml.safe_load(front)
            except yaml.YAMLError as exc:
                errors.append({"message": f"invalid YAML: {exc}"})
            else:
                if not isinstance(data, dict):
                    errors.append({"message": "the metadata must be a mapping"})
        if errors:
            return Response.json(400, {"errors": errors, "warnings": []})
        return Response.json(200, {"errors": [], "warnings": []})

    def _commit(self, key: str, body: bytes) -> Response:
        repo = self.repos.get(key)
        if repo is None:
            return Response.json(404, {"error": f"Repository not found: {key}"})
        for line in body.splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                repo.commits.append(value["summary"])
            elif item["key"] == "file":
                repo.files[value["path"]] = base64.b64decode(value["content"])
            else:
                return Response.json(400, {"error": f"unsupported commit entry {item['key']}"})
        oid = hashlib.sha1(body).hexdigest()
        return Response.json(
            200,
            {
                "commitUrl": f"{self.base_url}/{key}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": None,
            },
        )
