"""GetModelStatus and GetModelMetadata responses as TF Serving builds them, for both protocols.

The real server builds one proto per API (``get_model_status_impl.cc``,
``get_model_metadata_impl.cc``) and its REST handler prints that same proto as JSON, so the
gRPC servicer returns these messages and the REST API renders them: one conversion from what
the data plane returns, in one module both protocol edges import.
"""

from __future__ import annotations

from collections.abc import Sequence

from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from inception_svm_serving.core.data_plane import Metadata
from inception_svm_serving.core.model_manager import VersionStatus

_STATE_ENUM = {
    "START": get_model_status_pb2.ModelVersionStatus.START,
    "LOADING": get_model_status_pb2.ModelVersionStatus.LOADING,
    "AVAILABLE": get_model_status_pb2.ModelVersionStatus.AVAILABLE,
    "UNLOADING": get_model_status_pb2.ModelVersionStatus.UNLOADING,
    "END": get_model_status_pb2.ModelVersionStatus.END,
}
_UNKNOWN_ERROR_CODE = 2  # tensorflow.error.Code.UNKNOWN: what a failed load reports


def status_response(
    statuses: Sequence[VersionStatus],
) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in statuses:
        entry = response.model_version_status.add(version=status.version)
        entry.state = _STATE_ENUM[status.state]
        entry.status.SetInParent()  # TF Serving always reports a status, OK included
        if status.error:
            entry.status.error_code = _UNKNOWN_ERROR_CODE
            entry.status.error_message = status.error
    return response


def signature_def_map(metadata: Metadata) -> get_model_metadata_pb2.SignatureDefMap:
    """Every SignatureDef of the MetaGraph, including ones Predict cannot run (TF2's
    ``__saved_model_init_op``): TF Serving's metadata lists them all."""
    return get_model_metadata_pb2.SignatureDefMap(signature_def=metadata.signature_defs)


def metadata_response(metadata: Metadata) -> get_model_metadata_pb2.GetModelMetadataResponse:
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = metadata.model_name
    response.model_spec.version.value = metadata.version
    response.metadata["signature_def"].Pack(signature_def_map(metadata))
    return response
