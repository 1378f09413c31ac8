"""Message classes for the TF Serving API, built from ``descriptors.binpb`` in a private pool.

TF Serving's official stubs register the same full names (``tensorflow.TensorProto``, ...)
in protobuf's default pool; a private pool lets both live in one process (tests, and users
who also import TensorFlow). Only ``wire.py`` should touch these dynamic classes.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_METADATA_METHOD = "/tensorflow.serving.PredictionService/GetModelMetadata"
GET_MODEL_STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"


def _load_pool() -> descriptor_pool.DescriptorPool:
    data = (files(__package__ or "inception_svm_client.protos") / "descriptors.binpb").read_bytes()
    file_set = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    for file_proto in file_set.file:  # --include_imports lists dependencies first
        pool.Add(file_proto)
    return pool


POOL = _load_pool()


def message_class(full_name: str) -> Any:
    """The generated class for ``full_name`` (typed ``Any``: the class is built at runtime)."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


TensorProto = message_class("tensorflow.TensorProto")
PredictRequest = message_class("tensorflow.serving.PredictRequest")
PredictResponse = message_class("tensorflow.serving.PredictResponse")
GetModelMetadataRequest = message_class("tensorflow.serving.GetModelMetadataRequest")
GetModelMetadataResponse = message_class("tensorflow.serving.GetModelMetadataResponse")
SignatureDefMap = message_class("tensorflow.serving.SignatureDefMap")
GetModelStatusRequest = message_class("tensorflow.serving.GetModelStatusRequest")
GetModelStatusResponse = message_class("tensorflow.serving.GetModelStatusResponse")
MODEL_VERSION_STATE = POOL.FindEnumTypeByName("tensorflow.serving.ModelVersionStatus.State")
DATA_TYPE = POOL.FindEnumTypeByName("tensorflow.DataType")
