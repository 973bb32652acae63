"""Errors raised by tinyreason.

Every error derives from :class:`TinyReasonError`, so ``except tr.TinyReasonError`` catches all of
them. Each message says what was wrong *and how to fix it*.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "FolderNotOursError",
    "PluginError",
    "TinyReasonError",
    "UnknownPluginError",
    "UnverifiedArtifactWarning",
]


#: What a kind is called in messages, where its name would mislead: kind "student" is chat formats.
_NOUNS = {"student": "chat format", "reward_model": "reward model"}


class TinyReasonError(Exception):
    """Base class of every error tinyreason raises on purpose.

    Example:
        >>> import tinyreason as tr
        >>> try:
        ...     tr.scaler("no-such-scaler")
        ... except tr.TinyReasonError as err:
        ...     print(type(err).__name__)
        UnknownPluginError
    """


class ConfigError(TinyReasonError, ValueError):
    """A setting is wrong. Collects every problem found so they are all reported at once.

    Args:
        problems: One message per problem, each saying how to fix it.

    Example:
        >>> err = ConfigError(["max_thinking must be >= 0, got -1"])
        >>> err.problems
        ('max_thinking must be >= 0, got -1',)
    """

    def __init__(self, problems: str | Iterable[str]):
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class DataError(TinyReasonError, ValueError):
    """Input data is missing something or is malformed (a column, a field, a file).

    Example:
        >>> raise DataError("row 3 has no 'question'")
        Traceback (most recent call last):
        ...
        tinyreason.errors.DataError: row 3 has no 'question'
    """


class ArtifactError(DataError):
    """A saved artifact (a folder tinyreason wrote) is missing, damaged, incomplete or too new.

    Args:
        path: The folder or file at fault.
        problem: What is wrong with it.
        fix: What to do about it (usually: the command that writes it again).

    Example:
        >>> err = ArtifactError("runs/sel", "kept/data.arrow is missing", "run tr.select again")
        >>> str(err)
        'runs/sel: kept/data.arrow is missing; run tr.select again'
    """

    def __init__(self, path: object, problem: str, fix: str):
        self.path, self.problem, self.fix = str(path), problem, fix
        super().__init__(f"{path}: {problem}; {fix}")


class FolderNotOursError(ArtifactError):
    """An output folder already holds files tinyreason did not write, so nothing is written there.

    Example:
        >>> str(FolderNotOursError("out", "it holds notes.txt", "pass overwrite=True"))
        'out: it holds notes.txt; pass overwrite=True'
    """


class UnverifiedArtifactWarning(TinyReasonError, UserWarning):
    """A folder saved by an older tinyreason, without a manifest: it loads, but unverified.

    Example:
        >>> issubclass(UnverifiedArtifactWarning, UserWarning)
        True
    """


class UnknownPluginError(TinyReasonError, KeyError):
    """No plugin is registered under the requested name.

    Args:
        kind: What was asked for, e.g. ``"scaler"``.
        name: The unknown name.
        known: The names that are registered for that kind.

    Example:
        >>> err = UnknownPluginError("scaler", "budget-forcin", ["budget-forcing", "majority-vote"])
        >>> "did you mean 'budget-forcing'" in str(err)
        True
    """

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        hint = difflib.get_close_matches(name, self.known, n=1)
        noun = _NOUNS.get(kind, kind)
        message = f"unknown {noun} {name!r}"
        if hint:
            message += f" (did you mean {hint[0]!r}?)"
        message += f". Known {noun}s: {', '.join(self.known) or '(none)'}."
        message += (
            f" A plugin package can add one with the register_{kind}s hook; "
            "`tr.plugins()` shows what loaded and what failed."
        )
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes.
        return str(self.args[0])


class PluginError(TinyReasonError):
    """A plugin failed to load or registered something invalid.

    Args:
        plugin: The plugin's name (entry point or module).
        message: What went wrong and how to fix it.
        distribution: The installed distribution that provided the plugin, if known.

    Example:
        >>> str(PluginError("myplug", "register_scalers raised ImportError", "tinyreason-myplug"))
        "plugin 'myplug' (from tinyreason-myplug): register_scalers raised ImportError"
    """

    def __init__(self, plugin: str, message: str, distribution: str | None = None):
        self.plugin, self.distribution = plugin, distribution
        source = f" (from {distribution})" if distribution else ""
        super().__init__(f"plugin {plugin!r}{source}: {message}")
