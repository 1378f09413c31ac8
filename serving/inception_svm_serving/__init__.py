"""The stand-in for ``tensorflow_model_server``, and the helpers that start either server.

The public API is ``__all__`` (pinned by ``tests/serving/test_exported_members.py``); every
module below is the package's own and may change without notice. Names load on first use
(PEP 562) so that ``python -m inception_svm_serving.launch`` and ``serve --help`` still start
without TensorFlow or gRPC: importing the package itself imports nothing else.

Layout, top to bottom (import-linter's ``serving-layers`` contracts keep calls flowing down)::

    __main__, serve_command, launch, process   entry points and the server-process helper
    server                                     composition root: wires everything below
    protocol/grpc, protocol/rest, protocol     wire protocols over one data plane
    core                                       data plane, models, batching, runtime
    config, observability, _exceptions         leaves: flags and files, metrics and logs, errors
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inception_svm_serving._exceptions import (
        Code,
        ConfigError,
        InceptionSvmServingError,
        ServerStartError,
        ServingError,
    )
    from inception_svm_serving.config.options import ServerOptions, load_batching_parameters
    from inception_svm_serving.core.image_headers import header_dimensions, is_jpeg
    from inception_svm_serving.process import ServerProcess, launched_command, stand_in_command
    from inception_svm_serving.serve_command import main

__all__ = [
    "Code",
    "ConfigError",
    "InceptionSvmServingError",
    "ServerOptions",
    "ServerProcess",
    "ServerStartError",
    "ServingError",
    "header_dimensions",
    "is_jpeg",
    "launched_command",
    "load_batching_parameters",
    "main",
    "stand_in_command",
]

_HOMES = {
    "Code": "_exceptions",
    "ConfigError": "_exceptions",
    "InceptionSvmServingError": "_exceptions",
    "ServerStartError": "_exceptions",
    "ServingError": "_exceptions",
    "ServerOptions": "config.options",
    "load_batching_parameters": "config.options",
    "header_dimensions": "core.image_headers",
    "is_jpeg": "core.image_headers",
    "ServerProcess": "process",
    "launched_command": "process",
    "stand_in_command": "process",
    "main": "serve_command",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
