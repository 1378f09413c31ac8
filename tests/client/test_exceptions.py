"""The client's one error tree (drawn in ``inception_svm_client/exceptions.py``), pinned:
each class with its bases, and no exception class defined anywhere else in the package.
Then its one error-code enum and one mapping from gRPC status: what each failure is called
decides whether the client retries it, splits the batch, or stops."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import grpc
import pytest

import inception_svm_client
from inception_svm_client import exceptions
from inception_svm_client.config import FeaturizerConfig, ModelTarget
from inception_svm_client.exceptions import (
    ClientError,
    ConfigError,
    ErrorCode,
    SignatureMismatchError,
    WireError,
)
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.grpc._retry import should_retry, should_split
from tests.client.featurizer_clients import FeaturizerClient, both_clients
from tests.client.official_stub_server import Script, scripted_server

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
    "FileRefused": (ConfigError,),
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


def test_every_grpc_status_maps_to_the_code_of_its_name() -> None:
    for status in grpc.StatusCode:
        assert ErrorCode.from_status(status) == status.name


def _predict_error(channel: grpc.Channel, image: bytes) -> ClientError:
    with pytest.raises(ClientError) as raised:
        Featurizer(channel).predict([image])
    return raised.value


def test_a_message_over_the_size_limit_is_split_not_retried() -> None:
    with (
        scripted_server(Script()) as target,
        grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 1024)]) as channel,
    ):
        error = _predict_error(channel, b"x" * 4096)
    assert error.code == ErrorCode.RESOURCE_EXHAUSTED and error.oversize, error
    assert should_split(error) and not should_retry(error)


def test_a_full_server_queue_is_retried_not_split() -> None:
    script = Script(fail_first=1, fail_code=grpc.StatusCode.RESOURCE_EXHAUSTED)
    with scripted_server(script) as target, grpc.insecure_channel(target) as channel:
        error = _predict_error(channel, b"image")
    assert error.code == ErrorCode.RESOURCE_EXHAUSTED and not error.oversize, error
    assert should_retry(error) and not should_split(error)


@both_clients
def test_an_unparseable_metadata_response_is_a_bad_response_like_predict(
    client: FeaturizerClient,
) -> None:
    with pytest.raises(ClientError) as raised:
        client.fetch_signature_over_garbage()
    assert raised.value.code == ErrorCode.BAD_RESPONSE, raised.value
    assert not isinstance(raised.value, SignatureMismatchError)


def test_a_missing_signature_is_a_signature_mismatch() -> None:
    config = FeaturizerConfig(target=ModelTarget(signature_name="no_such_signature"))
    with (
        scripted_server(Script()) as target,
        grpc.insecure_channel(target) as channel,
        pytest.raises(SignatureMismatchError, match="no_such_signature"),
    ):
        Featurizer(channel, config).fetch_signature()
