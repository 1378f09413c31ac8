"""The served model's contract: the names and sizes the exporter writes into the SavedModel,
the server serves and the client asks for.

It lives in the thin client because that distribution is the one every other part already
depends on (the full distribution installs it), and it imports nothing, so the exporter and
the server can share it without pulling TensorFlow into the client or the client into TF.
Changing a value here changes the wire contract with every deployed client and server.
"""

from __future__ import annotations

# The model name the exporter gives the module and the server's default config serves.
MODEL_NAME = "inception_v1"

# serving_default: encoded images (DT_STRING [-1]) → logits (float [-1, NUM_CLASSES]).
SERVING_SIGNATURE = "serving_default"
IMAGES_INPUT = "images"
LOGITS_OUTPUT = "logits"
# predict_pixels: preprocessed pixels (float [-1, 224, 224, 3]) → logits.
PIXELS_SIGNATURE = "predict_pixels"
PIXELS_INPUT = "pixels"
# features: encoded images → pre-logits (float [-1, PRELOGITS_DIM]). A signature of its own
# so serving_default keeps exactly one output: REST row-format clients read ``predictions``
# as a plain list of logits, which a second output would turn into objects.
FEATURES_SIGNATURE = "features"
PRELOGITS_OUTPUT = "prelogits"
# classify_imagenet: encoded images → the top K ImageNet classes of each image.
IMAGENET_SIGNATURE = "classify_imagenet"
PROBABILITIES_OUTPUT = "probabilities"  # float [-1, K], descending softmax probabilities
CLASSES_OUTPUT = "classes"  # int32 [-1, K], indices into the NUM_CLASSES (0 = background)
CLASS_NAMES_OUTPUT = "class_names"  # string [-1, K]
CHECKPOINT_OUTPUT = "checkpoint"  # string [-1]: which weights answered (official or not)

# TF-Slim's Inception v1 has 1001 classes: ImageNet's 1000 plus "background" at index 0.
NUM_CLASSES = 1001
# Channels of Mixed_5c, average-pooled: the logits' input.
PRELOGITS_DIM = 1024

# Which layer an SVM is trained on → the signature serving it. The kind's name is the
# signature output's name, so the SVM's metadata names exactly what classify must request.
FEATURE_SIGNATURES: dict[str, str] = {
    LOGITS_OUTPUT: SERVING_SIGNATURE,
    PRELOGITS_OUTPUT: FEATURES_SIGNATURE,
}
