"""The base model, checked before it loads: its folder, its config, its weights' lengths.

A local base folder must exist, hold a readable ``config.json``, and its ``.safetensors`` files
must be as long as their headers say, so a truncated download is found before compute, not after
the model half-loads (:func:`check_base`). The same headers give the model's size for the disk
check without reading the weights (:func:`model_size`). Errors from transformers while the
tokenizer or the model loads are turned into a clear one naming the base (:class:`loading`).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, DataError, TinyReasonError

__all__ = ["check_base", "load_tokenizer", "loading", "model_size"]


def _looks_local(text: str) -> bool:
    """A path rather than a hub id (``org/name``): absolute, relative, home, or deeper."""
    return (
        text.startswith(("/", ".", "~"))
        or "\\" in text
        or text.strip("/").count("/") > 1
        or Path(text).expanduser().exists()
    )


def _safetensors_header(path: Path) -> tuple[int, int, int]:
    """(parameters, data bytes, the length the header promises) of one ``.safetensors`` file."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > 100 * 2**20:
            raise ValueError("its header length is not plausible")
        header = json.loads(handle.read(length))
    parameters, end = 0, 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        parameters += math.prod(entry["shape"])
        end = max(end, int(entry["data_offsets"][1]))
    return parameters, end, 8 + length + end


def check_base(base: str | Path) -> None:
    """Check a base model's folder without loading it: present, readable, weights whole.

    A hub id (``Qwen/Qwen2.5-7B-Instruct``) is not checked here: loading its tokenizer first says
    clearly when it cannot be found.

    Raises:
        ConfigError: a local path that is missing, a file, or not a model folder.
        DataError: its ``config.json`` or a ``.safetensors`` file is damaged (named).

    Example:
        >>> check_base("./no/such/model")
        Traceback (most recent call last):
        ...
        tinyreason.errors.ConfigError: base './no/such/model': no such folder; pass a model...
    """
    text = str(base)
    if not text.strip():
        raise ConfigError("base is empty; pass a model folder or a hub id.")
    if not _looks_local(text):
        return
    folder = Path(text).expanduser()
    if not folder.exists():
        raise ConfigError(
            f"base {text!r}: no such folder; pass a model folder (model.save_pretrained(folder)) "
            "or a hub id such as 'Qwen/Qwen2.5-0.5B-Instruct'"
        )
    if not folder.is_dir():
        raise ConfigError(f"base {text!r} is a file; pass the model's folder.")
    config = folder / "config.json"
    if not config.is_file():
        if (folder / "adapter_config.json").is_file():
            return  # a peft adapter as the base: peft reads its own base's config
        raise ConfigError(
            f"base {text!r} holds no config.json, so it is not a transformers model folder; save "
            "one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder)."
        )
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"base {text!r}: config.json is damaged ({type(exc).__name__}: {exc}); save or "
            "download the model again."
        ) from None
    for weights in sorted(folder.glob("*.safetensors")):
        try:
            _, _, expected = _safetensors_header(weights)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise DataError(
                f"base {text!r}: {weights.name} is damaged ({exc}); save or download the model "
                "again."
            ) from None
        size = weights.stat().st_size
        if size < expected:
            raise DataError(
                f"base {text!r}: {weights.name} is truncated ({size:,} bytes, its header says "
                f"{expected:,}); save or download the model again."
            )
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"base {text!r}: {index.name} is damaged ({exc})") from None
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            raise DataError(
                f"base {text!r}: {len(missing)} weight file(s) are missing "
                f"({', '.join(missing[:3])}); download the model again."
            )


def model_size(base: str | Path) -> tuple[int, int] | None:
    """(parameters, bytes of the stored weights) of a base model, where cheap to know.

    A local folder's ``.safetensors`` headers give both exactly, without reading the weights.
    Otherwise the config is built on PyTorch's meta device (no weights are read) and the bytes
    follow from its dtype; None when neither works (the disk check is then skipped).

    Example:
        >>> model_size("./no/such/model") is None
        True
    """
    text = str(base)
    folder = Path(text).expanduser()
    if _looks_local(text):
        files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        if not files:
            return None
        try:
            sizes = [_safetensors_header(f)[:2] for f in files]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        return sum(p for p, _ in sizes), sum(b for _, b in sizes)
    from .preflight import count_parameters

    parameters = count_parameters(text)
    if parameters is None:
        return None
    return parameters, parameters * 2  # hub checkpoints of this size are stored in 16 bits


class loading:
    """Turn a transformers error while reading the base into a clear one, naming the base.

    Only errors about the files (``OSError``, ``ValueError``, ``KeyError``, a safetensors error)
    are turned; anything else (out of memory, a bug) goes through as it is.

    Example:
        >>> with loading("my/model", "tokenizer"):
        ...     raise OSError("my/model is not a local folder and is not a valid model identifier")
        Traceback (most recent call last):
        ...
        tinyreason.errors.ConfigError: the tokenizer of base 'my/model' cannot be loaded ...
    """

    def __init__(self, base: str | Path, what: str) -> None:
        self.base, self.what = str(base), what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, TinyReasonError) or not isinstance(exc, Exception):
            return False
        from safetensors import SafetensorError

        if not isinstance(exc, (OSError, ValueError, KeyError, SafetensorError)):
            return False  # not about the files (out of memory, a bug): let it through
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(
            f"the {self.what} of base {self.base!r} cannot be loaded ({type(exc).__name__}: "
            f"{first}); check the model folder or hub id (offline, HF_HUB_OFFLINE=1 needs it in "
            "the local cache), or save or download the model again."
        ) from None


def load_tokenizer(base: str | Path) -> Any:
    """The base's tokenizer; an error loading it is a ConfigError naming the base."""
    from transformers import AutoTokenizer

    with loading(base, "tokenizer"):
        return AutoTokenizer.from_pretrained(str(base))
