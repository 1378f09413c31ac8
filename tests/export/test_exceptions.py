"""The exporter's one exception tree: the tree drawn in ``exceptions.py`` is the real one, and
no module of the package defines an exception outside it (the commands catch the root)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import inception_svm_export
from inception_svm_client.exceptions import SettingError
from inception_svm_export import exceptions
from inception_svm_export.exceptions import ExportError

# Each class and the one class of the tree it derives from (the root's is Exception).
TREE = {
    "ExportError": "Exception",
    "ExportSettingError": "ExportError",
    "CheckpointError": "ExportError",
    "WarmupError": "ExportError",
    "VersionDirError": "ExportError",
    "ManifestError": "ExportError",
    "DemoError": "ExportError",
}
_TREE_LINE = re.compile(
    r"^ {4}(?P<indent>(?:[│ ] {3})*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w+Error)\b"
)


def _drawn_tree() -> dict[str, str]:
    """{class: parent} as the ASCII tree in the module docstring draws it."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in (exceptions.__doc__ or "").splitlines():
        match = _TREE_LINE.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4 + (match["branch"] is not None)
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else "Exception"
        stack.append(match["name"])
    return parents


def _package_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not imported) by any module of the package."""
    found: dict[str, type[BaseException]] = {}
    modules = pkgutil.walk_packages(inception_svm_export.__path__, "inception_svm_export.")
    for info in modules:
        module = importlib.import_module(info.name)
        for name, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, BaseException) and member.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = member
    return found


def test_the_drawn_tree_is_the_pinned_tree() -> None:
    assert _drawn_tree() == TREE


@pytest.mark.parametrize(("name", "parent"), TREE.items())
def test_each_class_derives_from_its_parent_in_the_tree(name: str, parent: str) -> None:
    cls = getattr(exceptions, name)
    tree_bases = [base.__name__ for base in cls.__bases__ if base.__name__ in TREE]
    assert tree_bases == ([] if parent == "Exception" else [parent])
    assert issubclass(cls, ExportError)


def test_every_exception_of_the_package_is_in_the_tree() -> None:
    defined = _package_exceptions()
    assert defined, "the walk found no exception class: it would pass vacuously"
    assert sorted(defined) == sorted(f"{exceptions.__name__}.{name}" for name in TREE)
    assert all(issubclass(cls, ExportError) for cls in defined.values())


def test_refused_settings_stay_setting_errors_for_the_front_ends() -> None:
    """The CLI words a refused config with its flag names by catching ``ValueError``s."""
    assert issubclass(exceptions.ExportSettingError, SettingError)
    assert issubclass(exceptions.ExportSettingError, ValueError)
