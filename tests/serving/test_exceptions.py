"""The package's one exception tree (drawn in ``_exceptions.py``) and its one status table.

Every exception class defined anywhere in ``inception_svm_serving`` must sit in the tree, so a
new one cannot escape the root that callers catch.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from http import HTTPStatus

import grpc
import pytest

import inception_svm_serving
from inception_svm_serving import _exceptions
from inception_svm_serving._exceptions import (
    Code,
    ConfigError,
    DataLoss,
    FailedPrecondition,
    HttpBodyError,
    InceptionSvmServingError,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServerStartError,
    ServingError,
    Unavailable,
    Unimplemented,
    as_serving_error,
)

TREE: dict[type[BaseException], type[BaseException]] = {  # class -> its parent in the tree
    ConfigError: InceptionSvmServingError,
    ServerStartError: InceptionSvmServingError,
    HttpBodyError: InceptionSvmServingError,
    ServingError: InceptionSvmServingError,
    InvalidArgument: ServingError,
    NotFound: ServingError,
    Unavailable: ServingError,
    ResourceExhausted: ServingError,
    Unimplemented: ServingError,
    FailedPrecondition: ServingError,
    DataLoss: ServingError,
    Internal: ServingError,
}


def package_exception_classes() -> set[type[BaseException]]:
    """Every exception class whose home is a module of the package (imports are skipped)."""
    found: set[type[BaseException]] = set()
    modules = pkgutil.walk_packages(inception_svm_serving.__path__, "inception_svm_serving.")
    for info in modules:
        if info.name == "inception_svm_serving.__main__":
            continue  # running it would start a server
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                found.add(value)
    return found


def test_tree_is_as_drawn() -> None:
    for cls, parent in TREE.items():
        assert parent in cls.__bases__, cls
    assert InceptionSvmServingError.__bases__ == (Exception,)
    # Callers written before the tree caught a failed start as RuntimeError.
    assert issubclass(ServerStartError, RuntimeError)


def test_every_exception_class_of_the_package_is_in_the_tree() -> None:
    assert package_exception_classes() == {InceptionSvmServingError, *TREE}


def test_docstring_draws_every_class() -> None:
    doc = _exceptions.__doc__ or ""
    for cls in {InceptionSvmServingError, *TREE}:
        assert cls.__name__ in doc, cls


@pytest.mark.parametrize(
    ("error", "grpc_code", "http_status"),
    [
        (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT, HTTPStatus.BAD_REQUEST),
        (NotFound, grpc.StatusCode.NOT_FOUND, HTTPStatus.NOT_FOUND),
        (Unavailable, grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE),
        (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED, HTTPStatus.TOO_MANY_REQUESTS),
        (Unimplemented, grpc.StatusCode.UNIMPLEMENTED, HTTPStatus.NOT_IMPLEMENTED),
        (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION, HTTPStatus.BAD_REQUEST),
        (DataLoss, grpc.StatusCode.DATA_LOSS, HTTPStatus.INTERNAL_SERVER_ERROR),
        (Internal, grpc.StatusCode.INTERNAL, HTTPStatus.INTERNAL_SERVER_ERROR),
    ],
)
def test_one_status_table_maps_each_code_to_grpc_and_http(
    error: type[ServingError], grpc_code: grpc.StatusCode, http_status: HTTPStatus
) -> None:
    assert (error.code.grpc_code, error.code.http_status) == (grpc_code, http_status)
    assert error("why").message == "why"


def test_every_code_has_exactly_one_class() -> None:
    codes = [cls.code for cls in TREE if issubclass(cls, ServingError) and cls is not ServingError]
    assert sorted(codes, key=lambda code: code.name) == sorted(Code, key=lambda code: code.name)


def test_unexpected_exceptions_become_internal_and_ours_pass_through() -> None:
    failure = NotFound("gone")
    assert as_serving_error(failure) is failure
    internal = as_serving_error(KeyError("k"))
    assert isinstance(internal, Internal)
    assert internal.code is Code.INTERNAL and internal.message == "KeyError: 'k'"


def test_http_body_errors_carry_their_status() -> None:
    error = HttpBodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too big")
    assert (error.status, error.message, str(error)) == (
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "too big",
        "too big",
    )
