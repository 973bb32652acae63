"""A loopback server that speaks OpenAI's Batch API wire format (files + ``/v1/batches``).

The official ``openai`` SDK uploads the JSONL input file (multipart ``POST /v1/files``), creates
the batch (``POST /v1/batches``), retrieves and lists batches, cancels one, and downloads the
output and error files (``GET /v1/files/<id>/content``), exactly as against the real API. Each
answered request line is *billed* once (:attr:`OpenAIBatchServer.billed` counts them per
``custom_id``), and :attr:`~OpenAIBatchServer.creates` counts batches created, so tests can prove a
rerun after a crash never pays twice.

A batch moves on only when it is retrieved (never by wall-clock time): it is ``validating``, then
``in_progress`` for ``polls_to_finish`` retrieves, then ``completed`` (or ``expired`` with
``expire_after`` answered, the rest ``batch_expired``), so tests are deterministic.

Routes: ``POST /v1/files``, ``GET /v1/files/<id>/content``, ``POST /v1/batches``,
``GET /v1/batches``, ``GET /v1/batches/<id>``, ``POST /v1/batches/<id>/cancel``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

from . import _provider_wire as wire_format
from .loopback import LoopbackServer, Request, Response
from .provider_server import ScriptedReply

__all__ = ["OpenAIBatchServer"]

_TERMINAL = ("completed", "failed", "expired", "cancelled")


def _default_reply(question: str) -> ScriptedReply:
    return ScriptedReply(thinking=f"Let me think about: {question}", answer="42")


@dataclass(eq=False)
class OpenAIBatchServer(LoopbackServer):
    """A fake of OpenAI's Batch API for the real SDK, counting creates and billed requests.

    Args:
        default: Makes the reply to a question (default: thinking about it, answer ``"42"``).
        polls_to_finish: Retrieves a batch stays ``in_progress`` before it completes.
        never_finish: Batches stay ``in_progress`` for ever (a timeout test).
        expire_after: When set, a batch expires with only this many requests answered; the rest
            come back as ``batch_expired`` errors (once per batch: a resubmitted batch completes).
        server_errors: Questions answered with a retryable 500 in the error file, each once.
        bad_questions: Questions answered with a permanent 400 in the error file, every time.
        damage_downloads: How many output downloads are cut in the middle (a damaged download).

    Example:
        >>> import openai
        >>> with OpenAIBatchServer() as server:
        ...     client = openai.OpenAI(api_key="k", base_url=server.base_url)
        ...     f = client.files.create(file=("in.jsonl", b"", "application/jsonl"),
        ...                             purpose="batch")
        ...     b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
        ...                               completion_window="24h")
        ...     b.status, server.creates
        ('validating', 1)
    """

    url_path = "/v1"

    default: Callable[[str], ScriptedReply] = _default_reply
    polls_to_finish: int = 1
    never_finish: bool = False
    expire_after: int | None = None
    server_errors: set[str] = field(default_factory=set)
    bad_questions: set[str] = field(default_factory=set)
    damage_downloads: int = 0

    def __post_init__(self) -> None:
        LoopbackServer.__init__(self)
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._polls: Counter[str] = Counter()
        #: Batches created.
        self.creates = 0
        #: Files uploaded.
        self.uploads = 0
        #: Retrieve calls (polls) served.
        self.retrieves = 0
        #: Answered (billed) request lines, per ``custom_id``.
        self.billed: Counter[str] = Counter()
        self._expired_once = False

    # -- routing -------------------------------------------------------------------------------

    def respond(self, request: Request) -> Response | None:
        route = request.route
        parts = route.strip("/").split("/")
        if parts and parts[0] == "v1":
            parts = parts[1:]
        with self._lock:
            if parts == ["files"] and request.method == "POST":
                return self._upload(request)
            if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
                return self._content(parts[1])
            if parts == ["batches"] and request.method == "POST":
                return self._create(request.json() or {})
            if parts == ["batches"]:
                data = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
                return Response.json(200, {"object": "list", "data": data, "has_more": False})
            if len(parts) == 2 and parts[0] == "batches":
                return self._retrieve(parts[1])
            if len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel":
                return self._cancel(parts[1])
        return Response.json(404, {"error": {"message": f"no route {route}", "type": "invalid"}})

    def _upload(self, request: Request) -> Response:
        ctype = request.headers.get("Content-Type", "")
        message = BytesParser().parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.body
        )
        content = b""
        for part in message.walk():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                content = payload if isinstance(payload, bytes) else b""
        self.uploads += 1
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = content
        return Response.json(200, self._file(file_id, content))

    @staticmethod
    def _file(file_id: str, content: bytes) -> dict[str, Any]:
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": f"{file_id}.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    def _content(self, file_id: str) -> Response:
        if file_id not in self.files:
            return Response.json(404, {"error": {"message": "no such file", "type": "invalid"}})
        body = self.files[file_id]
        if self.damage_downloads > 0 and file_id.startswith("file-out"):
            self.damage_downloads -= 1
            body = body[: max(1, len(body) // 2)]
        return Response(200, body, content_type="application/octet-stream")

    def _create(self, body: dict[str, Any]) -> Response:
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return Response.json(400, {"error": {"message": "no such file", "type": "invalid"}})
        self.creates += 1
        batch_id = f"batch_{self.creates}"
        lines = [json.loads(x) for x in self.files[file_id].splitlines() if x.strip()]
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint"),
            "input_file_id": file_id,
            "completion_window": body.get("completion_window"),
            "status": "validating",
            "created_at": self.creates,
            "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "output_file_id": None,
            "error_file_id": None,
        }
        return Response.json(200, self.batches[batch_id])

    def _retrieve(self, batch_id: str) -> Response:
        batch = self.batches.get(batch_id)
        if batch is None:
            return Response.json(404, {"error": {"message": "no such batch", "type": "invalid"}})
        self.retrieves += 1
        if batch["status"] == "cancelling":
            self._finish(batch, "cancelled", answered=0)
        elif batch["status"] not in _TERMINAL and not self.never_finish:
            self._polls[batch_id] += 1
            if self._polls[batch_id] > self.polls_to_finish:
                expire = self.expire_after is not None and not self._expired_once
                if expire:
                    self._expired_once = True
                    self._finish(batch, "expired", answered=self.expire_after)
                else:
                    self._finish(batch, "completed", answered=None)
            else:
                batch["status"] = "in_progress"
        return Response.json(200, batch)

    def _cancel(self, batch_id: str) -> Response:
        batch = self.batches.get(batch_id)
        if batch is None:
            return Response.json(404, {"error": {"message": "no such batch", "type": "invalid"}})
        if batch["status"] not in _TERMINAL:
            batch["status"] = "cancelling"
        return Response.json(200, batch)

    def _finish(self, batch: dict[str, Any], status: str, answered: int | None) -> None:
        """Answer the batch's lines (bill each answer once), write its output and error files."""
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].splitlines() if x]
        out, errors = [], []
        for n, line in enumerate(lines):
            custom_id, body = line["custom_id"], line["body"]
            question, system = wire_format.extract("openai", body)
            question = question or ""
            if answered is not None and n >= answered:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append({"custom_id": custom_id, "response": None, "error": {"code": code}})
            elif question in self.bad_questions or question in self.server_errors:
                status_code = 400 if question in self.bad_questions else 500
                self.server_errors.discard(question)
                errors.append(
                    {
                        "id": f"req-{n}",
                        "custom_id": custom_id,
                        "response": {
                            "status_code": status_code,
                            "body": {"error": {"message": "refused", "type": "invalid"}},
                        },
                        "error": None,
                    }
                )
            else:
                reply = wire_format.render(
                    "openai",
                    self.default(question),
                    body.get("model", "fake"),
                    question,
                    system,
                    reasoning_style="reasoning_content",
                    details=True,
                )
                self.billed[custom_id] += 1
                out.append(
                    {
                        "id": f"req-{n}",
                        "custom_id": custom_id,
                        "response": {"status_code": 200, "request_id": f"r{n}", "body": reply},
                        "error": None,
                    }
                )
        for name, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{'out' if name == 'output_file_id' else 'err'}-{batch['id']}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = file_id
        batch["status"] = status
        batch["request_counts"] = {
            "total": len(lines),
            "completed": len(out),
            "failed": len(errors),
        }
