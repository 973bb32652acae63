"""OpenAI's Batch API (``/v1/batches`` with a JSONL file) for the ``openai-compatible`` teacher.

Each request is one line ``{"custom_id": <cache key>, "method": "POST", "url":
"/v1/chat/completions", "body": ...}`` whose body is exactly what the synchronous provider sends,
and each result line is read by the synchronous provider's own reply mapping, so a batch row is
the same row a call would give. Limits: 50,000 requests and 200 MB per input file (OpenAI's).
The official ``openai`` SDK does the talking (imported only when a backend is built).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import TinyReasonError
from ._http import malformed_error, status_error
from .base import ProviderError, TeacherReply, TeacherRequest
from .batch import BatchStatus, DamagedDownload
from .openai_compatible import OpenAICompatibleProvider

__all__ = ["METADATA_KEY", "OpenAIBatchBackend"]

#: The metadata field that carries a batch's local id (how a rerun finds an unrecorded batch).
METADATA_KEY = "tinyreason_batch"

_CHAT = "/v1/chat/completions"


class OpenAIBatchBackend:
    """OpenAI's Batch API through the official SDK (see :class:`~.batch.BatchBackend`).

    Args:
        provider: The synchronous provider: it builds each request body and maps each reply.
        max_retries: The SDK's own retries of a failed API call (upload, create, poll).

    Example:
        >>> provider = OpenAICompatibleProvider("m", api_key="k", base_url="http://h/v1")
        >>> backend = OpenAIBatchBackend(provider)
        >>> json.loads(backend.line("key1", TeacherRequest("p1", "2+2?", "m")))["custom_id"]
        'key1'
    """

    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, provider: OpenAICompatibleProvider, *, max_retries: int = 2):
        from openai import OpenAI

        self.provider = provider
        self.name = provider.name
        self._client = OpenAI(
            api_key=provider._secret,
            base_url=provider.base_url,
            max_retries=max_retries,
            timeout=provider.timeout,
        )

    def close(self) -> None:
        """Close the SDK client's connections."""
        self._client.close()

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        import openai

        try:
            return function(*args, **kwargs)
        except openai.APIStatusError as exc:
            error = status_error(
                self.name,
                exc.status_code,
                exc.body,
                exc.response.headers,
                secrets=[self.provider._secret],
                key_hint=self.provider.key_hint,
                model=self.provider.model,
            )
            hint = (
                " (does this server have a batch API? vLLM and most local servers do not: "
                "distil without batch=True)"
                if exc.status_code in (404, 405)
                else ""
            )
            raise TinyReasonError(f"{self.name} batch {what} failed: {error}{hint}") from None
        except openai.APIError as exc:
            raise TinyReasonError(
                f"{self.name} batch {what} failed ({type(exc).__name__}); run again to resume: "
                "what was submitted is recorded."
            ) from None

    def line(self, key: str, request: TeacherRequest) -> bytes:
        """One request as a batch input line."""
        body = dict(self.provider._params(request))
        extra = body.pop("extra_body", None)
        if isinstance(extra, dict):
            body.update(extra)
        line = {"custom_id": key, "method": "POST", "url": _CHAT, "body": body}
        return (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")

    def upload(self, local_id: str, lines: Sequence[bytes]) -> str:
        """Upload the JSONL input file (purpose ``batch``)."""
        content = b"".join(lines)
        made = self._call(
            "upload",
            self._client.files.create,
            file=(f"tinyreason-{local_id}.jsonl", content, "application/jsonl"),
            purpose="batch",
        )
        return str(made.id)

    def create(self, file_id: str, local_id: str) -> str:
        """Create the batch, its local id in the metadata."""
        made = self._call(
            "create",
            self._client.batches.create,
            input_file_id=file_id,
            endpoint=_CHAT,
            completion_window="24h",
            metadata={METADATA_KEY: local_id},
        )
        return str(made.id)

    def find(self, local_id: str) -> str | None:
        """A batch carrying ``local_id`` in its metadata (listing the account's batches)."""
        for batch in self._call("list", self._client.batches.list, limit=100):
            if (getattr(batch, "metadata", None) or {}).get(METADATA_KEY) == local_id:
                return str(batch.id)
        return None

    def status(self, batch_id: str) -> BatchStatus:
        """One retrieve."""
        batch = self._call("status", self._client.batches.retrieve, batch_id)
        counts = getattr(batch, "request_counts", None)
        return BatchStatus(
            batch_id,
            str(batch.status),
            total=int(getattr(counts, "total", 0) or 0),
            done=int(getattr(counts, "completed", 0) or 0),
            failed=int(getattr(counts, "failed", 0) or 0),
            output=batch.output_file_id,
            errors=batch.error_file_id,
        )

    def cancel(self, batch_id: str) -> None:
        """Ask OpenAI to cancel the batch (what it answered before stopping stays billable)."""
        self._call("cancel", self._client.batches.cancel, batch_id)

    def _lines(self, file_id: str) -> list[dict[str, Any]]:
        content = self._call("download", self._client.files.content, file_id).content
        if content and not content.endswith(b"\n"):
            raise DamagedDownload(f"{file_id} does not end with a whole line")
        rows = []
        for number, raw in enumerate(content.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                raise DamagedDownload(f"{file_id} line {number} is not JSON") from None
            if not isinstance(row, dict) or not isinstance(row.get("custom_id"), str):
                raise DamagedDownload(f"{file_id} line {number} has no custom_id")
            rows.append(row)
        return rows

    def results(self, status: BatchStatus) -> dict[str, TeacherReply | ProviderError]:
        """Every result of a finished batch by ``custom_id``: replies, and failures."""
        from openai.types.chat import ChatCompletion

        found: dict[str, TeacherReply | ProviderError] = {}
        for file_id, expected in ((status.output, status.done), (status.errors, status.failed)):
            if not file_id:
                continue
            rows = self._lines(file_id)
            # A file cut at a line boundary parses: the batch's own counts catch it.
            if status.total and len(rows) != expected:
                raise DamagedDownload(f"{file_id} has {len(rows)} rows, the batch says {expected}")
            for row in rows:
                key = row["custom_id"]
                response, error = row.get("response"), row.get("error")
                if isinstance(response, dict) and response.get("status_code") == 200:
                    body = response.get("body")
                    try:
                        completion = ChatCompletion.model_validate(body)
                        found[key] = self.provider._reply(completion, self.provider.model)
                    except ProviderError as exc:
                        found[key] = exc
                    except ValueError:
                        found[key] = malformed_error(
                            self.name, "a batch result that does not parse"
                        )
                elif isinstance(response, dict):
                    found[key] = status_error(
                        self.name,
                        int(response.get("status_code") or 500),
                        response.get("body"),
                        secrets=[self.provider._secret],
                        key_hint=self.provider.key_hint,
                        model=self.provider.model,
                    )
                else:
                    code = (error or {}).get("code") if isinstance(error, dict) else None
                    found[key] = ProviderError(
                        f"{self.name}: {code or 'no response'} in batch {status.batch_id}",
                        reason="timeout" if code == "batch_expired" else "server",
                        retryable=True,
                    )
        return found
