"""What ``tr.plugins()`` lists: each plugin, its status, what it registered, what went wrong.

The records of the plugin manager (:mod:`tinyreason.registry`), which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PluginInfo", "PluginList", "PluginWarning"]


class PluginWarning(UserWarning):
    """A plugin failed to load or registered something invalid; the rest keeps working."""


@dataclass
class PluginInfo:
    """What one plugin is and what it registered.

    Example:
        >>> import tinyreason as tr
        >>> info = next(p for p in tr.plugins() if p.name == "tinyreason.builtins")
        >>> info.status, "budget-forcing" in info.provides["scaler"]
        ('builtin', True)
    """

    name: str
    #: "builtin"; "loaded"; "partial" (loaded, but a hook raised: what it did register works);
    #: "failed" (could not import or register: nothing from it works); "skipped" (filtered out).
    status: str
    distribution: str | None = None
    version: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)
    load_errors: list[str] = field(default_factory=list)
    hook_errors: list[str] = field(default_factory=list)  # rebuilt with the registry

    @property
    def error(self) -> str | None:
        """All of this plugin's errors in one message, or None."""
        return "; ".join(self.load_errors + self.hook_errors) or None


class PluginList(list):  # type: ignore[type-arg]
    """A list of :class:`PluginInfo` that prints as a table (text and notebook HTML)."""

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for p in self:
            source = f"{p.distribution} {p.version or ''}".strip() if p.distribution else ""
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.provides.items() if v)
            rows.append((p.name, p.status, source, p.error or provides))
        return rows

    def __repr__(self) -> str:
        header = ("plugin", "status", "distribution", "provides / error")
        rows = [header, *self._rows()]
        widths = [min(40, max(len(r[i]) for r in rows)) for i in range(3)]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=False)) + "  " + r[3]
            for r in rows
        )

    def _repr_html_(self) -> str:
        import html

        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._rows()
        )
        return (
            "<table><thead><tr><th>plugin</th><th>status</th><th>distribution</th>"
            f"<th>provides / error</th></tr></thead><tbody>{cells}</tbody></table>"
        )
