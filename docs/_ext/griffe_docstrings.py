"""A Griffe extension that lets mkdocstrings render tinyreason's docstrings as written.

Two habits of the source would otherwise render badly, without changing what the docstrings say:

- ``Example:`` (the singular, used throughout ``src/tinyreason``) is not a section name for Griffe's
  Google parser, which only knows ``Examples:``. It would become an admonition whose ``>>>`` lines
  render as nested block quotes (and whose ``ds[0]["x"]`` look like Markdown references). It is
  read as ``Examples:``, so doctests render as code.
- Sphinx roles (``:class:`~tinyreason.Problem```, ``:func:`...```, ``:data:`...```) have no meaning
  in Markdown. They render as inline code of the name (the last part when it starts with ``~``).

mkdocs.yml loads this file through the python handler's ``extensions`` option. It never touches
the source files; ``exclude_docs`` keeps it out of the built site.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const|type):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def rewrite(text: str) -> str:
    """The docstring text with ``Example:`` as ``Examples:`` and Sphinx roles as inline code.

    Example:
        >>> rewrite("Sum.\\n\\nExample:\\n    >>> 1 + 1\\n    2")
        'Sum.\\n\\nExamples:\\n    >>> 1 + 1\\n    2'
        >>> rewrite("A :class:`~tinyreason.records.Problem` or :func:`tr.select`.")
        'A `Problem` or `tr.select`.'
    """
    return _ROLE.sub(_role, _EXAMPLE.sub(r"\1Examples:", text))


class TinyreasonDocstrings(griffe.Extension):
    """Rewrite every loaded object's docstring with :func:`rewrite` before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring (Griffe parses docstrings lazily, after this)."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
