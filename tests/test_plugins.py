"""The plugin system: getters, errors that say how to fix things, notebook plugins, isolation.

Entry points (real installed packages) are tested in test_entry_points.py; here plugins are
registered in-process with ``tr.register_plugin``, as a notebook or a test does.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Sequence
from typing import Any

import pytest

import tinyreason as tr
from tinyreason import registry
from tinyreason.hookspecs import HOOKS

PluginWarning = registry.PluginWarning


# -- minimal objects that fit each protocol ------------------------------------------------------


class ToySelector:
    def __init__(self, k: int = 1) -> None:
        self.k = k

    def select(self, dataset: Any) -> Any:
        return dataset


class ToyTrainer:
    def __init__(self, *, base: str, epochs: int = 1) -> None:  # base is required
        self.base, self.epochs = base, epochs

    def train(self, dataset: Any) -> Any:
        return self.base


class ToyScaler:
    def solve(
        self, backend: Any, problems: Sequence[tr.Problem], *, seed: int | None = None
    ) -> list[tr.Solution]:
        return []


class ToyBenchmark:
    name = "toy-bench"

    def problems(self) -> list[tr.Problem]:
        return [tr.Problem("b1", "1 + 1?", answer="2")]


class ToyBackend:
    def __init__(self) -> None:
        self.format = tr.chat_format("think-tags")

    def prompt(self, question: str) -> str:
        return question

    def generate(self, prompts: Sequence[str], **kwargs: Any) -> list[list[tr.Generation]]:
        return [[] for _ in prompts]


class ToyRewardModel:
    def score(self, question: str, steps: Sequence[str]) -> list[float]:
        return [1.0] * len(steps)

    def score_batch(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        return [self.score(question, steps) for question, steps in items]


class ToyPlugin:
    """One thing of every kind, as a plugin object with @tr.hookimpl methods."""

    @tr.hookimpl
    def register_teachers(self, register: Any) -> None:
        register("toy-teacher", tr.testing.FakeTeacher)

    @tr.hookimpl
    def register_selectors(self, register: Any) -> None:
        register("toy-selector", ToySelector)

    @tr.hookimpl
    def register_trainers(self, register: Any) -> None:
        register("toy-trainer", ToyTrainer)

    @tr.hookimpl
    def register_scalers(self, register: Any) -> None:
        register("toy-scaler", ToyScaler)

    @tr.hookimpl
    def register_students(self, register: Any) -> None:
        register("toy-tags", lambda: tr.students.ThinkFormat("toy-tags", "<t>", "</t>"))

    @tr.hookimpl
    def register_benchmarks(self, register: Any) -> None:
        register("toy-bench", ToyBenchmark)

    @tr.hookimpl
    def register_backends(self, register: Any) -> None:
        register("toy-backend", ToyBackend)

    @tr.hookimpl
    def register_reward_models(self, register: Any) -> None:
        register("toy-prm", ToyRewardModel)


def _plugin(name: str, kind: str, entries: dict[str, Any]) -> object:
    """A plugin object registering ``entries`` (name -> factory) through ``kind``'s hook."""

    def hook(register: Any) -> None:
        for entry, factory in entries.items():
            register(entry, factory)

    hook.__name__ = HOOKS[kind]
    module = types.ModuleType(name)
    setattr(module, HOOKS[kind], tr.hookimpl(hook))
    return module


def _info(name: str) -> Any:
    return next(p for p in tr.plugins() if p.name == name)


# -- getters -------------------------------------------------------------------------------------


GETTERS = {
    "teacher": (tr.teacher, "toy-teacher", {}, tr.Teacher),
    "selector": (tr.selector, "toy-selector", {"k": 3}, tr.Selector),
    "trainer": (tr.trainer, "toy-trainer", {"base": "tiny"}, tr.Trainer),
    "scaler": (tr.scaler, "toy-scaler", {}, tr.TestTimeScaler),
    "student": (tr.chat_format, "toy-tags", {}, tr.StudentFormat),
    "benchmark": (tr.benchmark, "toy-bench", {}, tr.Benchmark),
    "backend": (tr.backend, "toy-backend", {}, tr.Backend),
    "reward_model": (tr.reward_model, "toy-prm", {}, tr.RewardModel),
}


def test_every_hook_has_a_getter() -> None:
    assert set(GETTERS) == set(HOOKS)


@pytest.mark.parametrize("kind", list(GETTERS))
def test_getter_builds_a_registered_plugin(kind: str) -> None:
    getter, name, options, protocol = GETTERS[kind]
    tr.register_plugin(ToyPlugin(), name="toy")
    assert name in tr.available(kind)
    obj = getter(name, **options)
    assert isinstance(obj, protocol)
    assert getter(name, **options) is not obj  # a factory: a fresh object per call
    assert name in _info("toy").provides[kind]


def test_builtins_register_through_the_hooks() -> None:
    builtins = _info("tinyreason.builtins")
    assert builtins.status == "builtin"
    assert {"fake"} <= set(builtins.provides["teacher"])
    assert {"qwen-s1", "think-tags"} <= set(builtins.provides["student"])
    assert tr.chat_format("think-tags").think_end == "</think>"
    teacher = tr.teacher("fake", thinking_kind="summary")
    assert isinstance(teacher, tr.testing.FakeTeacher)
    assert teacher.thinking_kind == "summary"


def test_student_is_a_deprecated_alias_of_chat_format() -> None:
    deprecated = r"tr\.student\(\) is deprecated.*Use tr\.chat_format\(name"
    with pytest.warns(DeprecationWarning, match=deprecated) as record:
        fmt = tr.student("qwen-s1", system_prompt="Be brief.")
    assert record[0].filename == __file__  # stacklevel=2: the warning points at the caller
    assert fmt == tr.chat_format("qwen-s1", system_prompt="Be brief.")
    assert isinstance(fmt, tr.students.ThinkFormat)


def test_available_is_sorted_and_checks_the_kind() -> None:
    names = tr.available("student")
    assert names == sorted(names)
    with pytest.raises(
        tr.UnknownPluginError, match=r"unknown kind 'students'.*did you mean 'student'"
    ):
        tr.available("students")


# -- errors that say how to fix --------------------------------------------------------------------


def test_unknown_name_lists_known_names_and_suggests() -> None:
    with pytest.raises(tr.UnknownPluginError) as info:
        tr.chat_format("qwen-s")
    err = info.value
    assert isinstance(err, KeyError)
    assert (err.kind, err.name) == ("student", "qwen-s")
    assert err.known == tr.available("student")
    message = str(err)
    assert message.startswith("unknown chat format 'qwen-s'")  # what it is, not the kind's name
    assert "did you mean 'qwen-s1'" in message
    assert "qwen-s1, think-tags" in message
    assert "register_students" in message
    assert not message.startswith('"')  # not KeyError's quoted repr


def test_unknown_name_without_close_match() -> None:
    with pytest.raises(tr.UnknownPluginError, match=r"unknown teacher 'zzz'. Known teachers: "):
        tr.teacher("zzz")


def test_unknown_option_names_the_key_and_the_valid_ones() -> None:
    with pytest.raises(tr.ConfigError) as info:
        tr.teacher("fake", modle="x")
    message = str(info.value)
    assert "no option 'modle'" in message
    assert "did you mean 'model'" in message
    assert "valid options: model, strict, thinking_kind" in message


def test_every_bad_option_is_reported_at_once() -> None:
    tr.register_plugin(ToyPlugin(), name="toy")
    with pytest.raises(tr.ConfigError) as info:
        tr.trainer("toy-trainer", epoch=2, lr=1e-5)
    problems = info.value.problems
    assert len(problems) == 3  # two unknown options and the missing required one
    assert any("'epoch' (did you mean 'epochs'?)" in p for p in problems)
    assert any("'lr'" in p and "valid options: base, epochs" in p for p in problems)
    assert any("needs the option 'base'" in p for p in problems)


def test_missing_required_option() -> None:
    tr.register_plugin(ToyPlugin(), name="toy")
    with pytest.raises(tr.ConfigError, match=r"trainer 'toy-trainer' needs the option 'base'"):
        tr.trainer("toy-trainer")


def test_invalid_option_value_from_the_factory() -> None:
    with pytest.raises(tr.ConfigError, match=r"thinking_kind"):
        tr.teacher("fake", thinking_kind="hidden")


def test_factory_returning_a_non_conforming_object_is_a_plugin_error() -> None:
    tr.register_plugin(_plugin("oddball", "teacher", {"odd": lambda: object()}))
    with pytest.raises(tr.PluginError) as info:
        tr.teacher("odd")
    message = str(info.value)
    assert info.value.plugin == "oddball"
    assert "returned object, which is not a Teacher" in message
    assert "distill" in message


def test_lazy_factory_with_a_missing_package_says_what_to_install() -> None:
    tr.register_plugin(
        _plugin("lazy", "scaler", {"gone": "tinyreason_no_such_pkg.scalers:Gone"}), name="lazy"
    )
    assert "gone" in tr.available("scaler")  # registering a string imports nothing
    with pytest.raises(tr.PluginError, match=r"needs the package 'tinyreason_no_such_pkg'"):
        tr.scaler("gone")


def test_lazy_factory_with_a_wrong_attribute() -> None:
    tr.register_plugin(
        _plugin("lazy", "student", {"typo": "tinyreason.students.formats:qwen_s2"}), name="lazy"
    )
    with pytest.raises(tr.PluginError, match=r"cannot load 'tinyreason.students.formats:qwen_s2'"):
        tr.chat_format("typo")


# -- notebook plugins ------------------------------------------------------------------------------


def test_register_plugin_from_a_notebook_and_rerun_the_cell() -> None:
    def cell(answer: str) -> str:
        # What a notebook cell defines: a new class each time the cell runs.
        class MyPlugin:
            @tr.hookimpl
            def register_benchmarks(self, register: Any) -> None:
                class Bench:
                    name = "mine"

                    def problems(self) -> list[tr.Problem]:
                        return [tr.Problem("m1", "2 + 2?", answer=answer)]

                register("mine", Bench)

        return tr.register_plugin(MyPlugin())

    assert cell("4") == "MyPlugin"  # named after its class by default
    assert tr.benchmark("mine").problems()[0].answer == "4"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-running the cell is no duplicate: no warning
        assert cell("four") == "MyPlugin"
        assert tr.benchmark("mine").problems()[0].answer == "four"
    assert [p.name for p in tr.plugins()].count("MyPlugin") == 1
    tr.unregister_plugin("MyPlugin")
    assert "mine" not in tr.available("benchmark")
    with pytest.raises(tr.UnknownPluginError, match=r"unknown plugin 'MyPlugin'"):
        tr.unregister_plugin("MyPlugin")


def test_register_plugin_module_uses_its_name() -> None:
    module = _plugin("my_notebook_plugin", "selector", {"everything": ToySelector})
    assert tr.register_plugin(module) == "my_notebook_plugin"
    assert _info("my_notebook_plugin").provides == {"selector": ["everything"]}
    assert _info("my_notebook_plugin").status == "loaded"


def test_register_plugin_with_a_misspelt_hook_raises_and_names_it() -> None:
    class Misspelt:
        @tr.hookimpl
        def register_teacher(self, register: Any) -> None:  # the hook is register_teachers
            register("x", tr.testing.FakeTeacher)

    with (
        pytest.warns(PluginWarning, match=r"register_teacher"),
        pytest.raises(tr.PluginError) as info,
    ):
        tr.register_plugin(Misspelt(), name="misspelt")
    assert info.value.plugin == "misspelt"
    assert "register_teacher" in str(info.value)
    assert _info("misspelt").status == "failed"
    assert tr.available("teacher")  # the rest still works


def test_register_plugin_with_an_unknown_hook_argument_is_rejected() -> None:
    class ExtraArg:
        @tr.hookimpl
        def register_teachers(self, register: Any, config: Any) -> None:  # no such argument
            register("x", tr.testing.FakeTeacher)

    with pytest.warns(PluginWarning), pytest.raises(tr.PluginError, match=r"config"):
        tr.register_plugin(ExtraArg(), name="extra")


def test_hook_may_take_no_arguments() -> None:
    class Quiet:
        @tr.hookimpl
        def register_teachers(self) -> None:
            pass

    tr.register_plugin(Quiet(), name="quiet")
    assert _info("quiet").status == "loaded"
    assert "fake" in tr.available("teacher")


# -- duplicates and isolation ----------------------------------------------------------------------


def test_duplicate_name_from_two_plugins_keeps_the_first_and_warns() -> None:
    first = tr.testing.FakeTeacher
    tr.register_plugin(_plugin("first", "teacher", {"dup": first}))
    tr.register_plugin(_plugin("second", "teacher", {"dup": ToySelector}))
    with pytest.warns(
        PluginWarning, match=r"'dup' is already provided by plugin 'first'"
    ) as record:
        assert isinstance(tr.teacher("dup"), first)
    assert "'second'" in str(record[0].message)
    assert _info("second").status == "partial"
    assert "already provided" in (_info("second").error or "")
    assert _info("first").provides == {"teacher": ["dup"]}


def test_plugin_cannot_take_over_a_builtin_name() -> None:
    tr.register_plugin(_plugin("usurper", "student", {"qwen-s1": ToySelector}))
    with pytest.warns(PluginWarning, match=r"already provided by plugin 'tinyreason.builtins'"):
        assert tr.chat_format("qwen-s1").name == "qwen-s1"


def test_same_plugin_registering_a_name_twice_keeps_the_last() -> None:
    class Twice:
        @tr.hookimpl
        def register_teachers(self, register: Any) -> None:
            register("twice", ToySelector)
            register("twice", tr.testing.FakeTeacher)

    tr.register_plugin(Twice(), name="twice")
    assert isinstance(tr.teacher("twice"), tr.testing.FakeTeacher)


def test_hook_that_raises_is_isolated() -> None:
    class Raising:
        @tr.hookimpl
        def register_students(self, register: Any) -> None:
            register("half-done", lambda: tr.students.ThinkFormat("half-done", "<h>", "</h>"))

        @tr.hookimpl
        def register_scalers(self, register: Any) -> None:
            raise RuntimeError("no GPU here")

    tr.register_plugin(Raising(), name="raising")
    tr.register_plugin(ToyPlugin(), name="toy")
    with pytest.warns(
        PluginWarning, match=r"'raising'.*register_scalers raised RuntimeError: no GPU"
    ):
        scalers = tr.available("scaler")
    assert "toy-scaler" in scalers  # the other plugin's scalers are all there
    assert "half-done" in tr.available("student")  # and the raising plugin's other hook worked
    info = _info("raising")
    assert info.status == "partial"  # loaded; one hook raised; what it did register works
    assert info.error == "register_scalers raised RuntimeError: no GPU here"
    assert tr.chat_format("qwen-s1").name == "qwen-s1"


@pytest.mark.parametrize(
    ("name", "factory", "message"),
    [
        ("", tr.testing.FakeTeacher, "needs a non-empty name"),
        ("no-factory", 42, "must be a callable or a 'module:attribute' string"),
        ("no-colon", "tinyreason.testing.fakes.FakeTeacher", "'module:attribute' string"),
    ],
)
def test_bad_registrations_are_reported_not_raised(name: str, factory: Any, message: str) -> None:
    tr.register_plugin(
        _plugin("sloppy", "teacher", {name: factory, "fine": tr.testing.FakeTeacher})
    )
    with pytest.warns(PluginWarning, match=message):
        names = tr.available("teacher")
    assert "fine" in names
    assert name not in names


# -- showing plugins -------------------------------------------------------------------------------


def test_plugins_repr_and_html_show_status() -> None:
    class Raising:
        @tr.hookimpl
        def register_scalers(self, register: Any) -> None:
            raise ValueError("bad <config> & more")

    tr.register_plugin(ToyPlugin(), name="toy")
    tr.register_plugin(Raising(), name="raising")
    with pytest.warns(PluginWarning):
        listing = tr.plugins()
    assert isinstance(listing, list)
    text = repr(listing)
    lines = text.splitlines()
    assert lines[0].split() == ["plugin", "status", "distribution", "provides", "/", "error"]
    builtin_line = next(line for line in lines if line.startswith("tinyreason.builtins"))
    assert "builtin" in builtin_line and "student: qwen-s1, think-tags" in builtin_line
    toy_line = next(line for line in lines if line.startswith("toy "))
    assert "loaded" in toy_line and "teacher: toy-teacher" in toy_line
    raising_line = next(line for line in lines if line.startswith("raising"))
    assert "partial" in raising_line and "register_scalers raised ValueError" in raising_line
    html = listing._repr_html_()
    assert html.startswith("<table>") and html.endswith("</table>")
    assert "<td>partial</td>" in html
    assert "bad &lt;config&gt; &amp; more" in html  # escaped


def test_no_third_party_plugins_in_ordinary_tests() -> None:
    # conftest.py sets TINYREASON_LOAD_PLUGINS="": any installed entry point is listed as skipped.
    assert all(p.status in ("builtin", "skipped") for p in tr.plugins())


def test_trace_plugins_prints_hook_calls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINYREASON_TRACE_PLUGINS", "1")
    registry.reset()
    tr.register_plugin(ToyPlugin(), name="toy")
    assert "toy-teacher" in tr.available("teacher")
    out = capsys.readouterr().out
    assert "register_teachers [tinyreason.builtins] -> ['fake'" in out
    assert "register_teachers [toy] -> ['toy-teacher']" in out


def test_reset_forgets_notebook_plugins() -> None:
    tr.register_plugin(ToyPlugin(), name="toy")
    registry.reset()
    assert "toy-teacher" not in tr.available("teacher")
    assert "fake" in tr.available("teacher")
