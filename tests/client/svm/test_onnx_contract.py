"""The ONNX SVM's caller contract (docs/contract.md): outputs ``label`` and ``scores`` (the
signed decision scores, not probabilities) and metadata ``contract_version``; files written
before the rename (output ``probabilities``, no ``contract_version``) still load."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest

from inception_svm_client.exceptions import ClientError, ErrorCode
from inception_svm_client.svm import _classifier as svm
from inception_svm_client.svm._metadata import SVM_CONTRACT_VERSION
from tests.client.svm.test_classifier import fitted_onnx


def as_contract_1(onnx_bytes: bytes) -> bytes:
    """What ``train`` wrote before contract version 2: skl2onnx's output name, no key."""
    model = onnx.load_from_string(onnx_bytes)
    svm._rename_tensor(model.graph, "scores", "probabilities")
    kept = [p for p in model.metadata_props if p.key != "contract_version"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    return model.SerializeToString()


@pytest.mark.parametrize(("classes", "width"), [(2, 1), (3, 3)])
def test_a_new_svm_names_its_outputs_label_and_scores(classes: int, width: int) -> None:
    _, onnx_bytes, features = fitted_onnx(feature_dim=5, classes=classes)
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["label", "scores"]
    assert [i.name for i in session.get_inputs()] == ["features"]
    props = dict(session.get_modelmeta().custom_metadata_map)
    assert props["contract_version"] == str(SVM_CONTRACT_VERSION) == "2"
    labels, scores = session.run(["label", "scores"], {"features": features})
    assert scores.shape == (len(features), width) and scores.dtype == np.float32
    assert labels.shape == (len(features),)


@pytest.mark.parametrize("classes", [2, 3])
def test_an_svm_of_contract_1_still_loads_and_decides_the_same(classes: int) -> None:
    _, onnx_bytes, features = fitted_onnx(feature_dim=5, classes=classes)
    new = svm.SvmClassifier(onnx_bytes)
    old = svm.SvmClassifier(as_contract_1(onnx_bytes))
    assert old.metadata.contract_version == 1 and new.metadata.contract_version == 2
    np.testing.assert_array_equal(old.decision_function(features), new.decision_function(features))
    assert old.predict(features) == new.predict(features)


def test_an_onnx_file_without_the_scores_output_is_refused() -> None:
    _, onnx_bytes, _ = fitted_onnx(feature_dim=5, classes=2)
    model = onnx.load_from_string(onnx_bytes)
    svm._rename_tensor(model.graph, "scores", "distances")
    with pytest.raises(ClientError, match="are not \\['label', 'scores'\\]") as caught:
        svm.SvmClassifier(model.SerializeToString())
    assert caught.value.code is ErrorCode.INVALID_SVM
