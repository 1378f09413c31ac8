"""The client's one error tree (drawn in ``inception_svm_client/exceptions.py``), pinned:
each class with its bases, and no exception class defined anywhere else in the package."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import inception_svm_client
from inception_svm_client import exceptions
from inception_svm_client.exceptions import ClientError, ConfigError, ErrorCode, WireError

# Every class of the tree → its direct bases, in order.
TREE: dict[str, tuple[type, ...]] = {
    "ClientError": (Exception,),
    "SignatureMismatchError": (ClientError,),
    "WrongPortError": (ClientError,),
    "BudgetExhaustedError": (ClientError,),
    "InterruptedCall": (ClientError,),
    "VerifyAborted": (ClientError,),
    "WireError": (ClientError, ValueError),
    "MissingSignatureError": (WireError,),
    "ConfigError": (ClientError,),
    "SettingError": (ConfigError, ValueError),
    "GoldenError": (ConfigError,),
    "TrainingDataError": (ConfigError,),
    "ResumeError": (ConfigError,),
}


def _exception_classes() -> dict[str, type]:
    """Every exception class defined (not merely imported) in a module of the package,
    protos (generated code) and ``__main__`` (it runs the CLI) excepted."""
    found: dict[str, type] = {}
    for module_info in pkgutil.walk_packages(
        inception_svm_client.__path__, prefix="inception_svm_client."
    ):
        if ".protos" in module_info.name or module_info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ImportError as error:  # an extra not installed (train, report)
            pytest.fail(f"{module_info.name} does not import: {error}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_the_tree_has_every_class_with_its_bases() -> None:
    defined = {
        name: value
        for name, value in vars(exceptions).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert set(defined) == set(TREE)
    for name, bases in TREE.items():
        assert defined[name].__bases__ == bases, name


def test_every_exception_of_the_package_is_in_the_tree() -> None:
    found = _exception_classes()
    assert found, "the walk found no exception class: it would pass vacuously"
    assert {
        name for name in found if not name.startswith("inception_svm_client.exceptions.")
    } == set()
    assert {value.__name__ for value in found.values()} == set(TREE)


def test_the_tree_is_drawn_in_the_docstring() -> None:
    doc = exceptions.__doc__ or ""
    for name in TREE:
        assert f" {name}" in doc, name


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (
            exceptions.SettingError("{batch_size} must be at least 1"),
            "INVALID_CONFIG",
            "batch_size must be at least 1",
        ),
        (exceptions.GoldenError("not a golden file"), "INVALID_CONFIG", "not a golden file"),
        (exceptions.WireError("7 bytes"), "BAD_RESPONSE", "7 bytes"),
        (
            exceptions.VerifyAborted(ClientError(ErrorCode.UNAVAILABLE, "down")),
            "UNAVAILABLE",
            "UNAVAILABLE: down",
        ),
    ],
)
def test_codes_and_messages(error: ClientError, code: str, text: str) -> None:
    """A refused setting or file keeps its bare message (the CLI prints it after "error:"),
    and every error carries a code from the one table."""
    assert error.code == code and str(error) == text
