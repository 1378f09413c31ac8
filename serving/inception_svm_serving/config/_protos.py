"""Message classes for the TF Serving config protos that no pip package ships.

``tensorflow-serving-api`` ships ModelServerConfig but not BatchingParameters
(session_bundle_config.proto), MonitoringConfig (monitoring_config.proto) or SSLConfig
(ssl_config.proto). We declare the
fields we read, with TF Serving's own field names and numbers, in a private descriptor pool so
``text_format`` parses exactly the files tensorflow_model_server parses (and rejects the same
typos), without generated code in the repository.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow.serving"


def _field(
    message: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    field_type: int,
    type_name: str = "",
    repeated: bool = False,
) -> None:
    field = message.field.add(name=name, number=number, type=field_type)
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="inception_svm_serving/tf_serving_config.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    batching = file.message_type.add(name="BatchingParameters")
    int64_value = ".google.protobuf.Int64Value"
    _field(batching, "max_batch_size", 1, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "batch_timeout_micros", 2, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "max_enqueued_batches", 3, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "num_batch_threads", 4, _F.TYPE_MESSAGE, int64_value)
    _field(batching, "thread_pool_name", 5, _F.TYPE_MESSAGE, ".google.protobuf.StringValue")
    _field(batching, "allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True)
    _field(batching, "pad_variable_length_inputs", 7, _F.TYPE_BOOL)
    _field(
        batching, "enable_large_batch_splitting", 9, _F.TYPE_MESSAGE, ".google.protobuf.BoolValue"
    )
    _field(batching, "max_execution_batch_size", 10, _F.TYPE_MESSAGE, int64_value)

    prometheus = file.message_type.add(name="PrometheusConfig")
    _field(prometheus, "enable", 1, _F.TYPE_BOOL)
    _field(prometheus, "path", 2, _F.TYPE_STRING)
    monitoring = file.message_type.add(name="MonitoringConfig")
    _field(monitoring, "prometheus_config", 1, _F.TYPE_MESSAGE, f".{_PACKAGE}.PrometheusConfig")

    ssl = file.message_type.add(name="SSLConfig")
    _field(ssl, "server_key", 1, _F.TYPE_STRING)
    _field(ssl, "server_cert", 2, _F.TYPE_STRING)
    _field(ssl, "custom_ca", 3, _F.TYPE_STRING)
    _field(ssl, "client_verify", 4, _F.TYPE_BOOL)
    return file


def _build_classes() -> tuple[type[Any], type[Any], type[Any]]:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    pool.Add(_build_file())
    batching = message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.BatchingParameters")
    )
    monitoring = message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.MonitoringConfig")
    )
    ssl = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.SSLConfig"))
    return batching, monitoring, ssl


BatchingParameters, MonitoringConfig, SSLConfig = _build_classes()
