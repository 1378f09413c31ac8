"""Encoded image bytes → the [224, 224, 3] float input Inception v1 was trained on.

Runs inside the SavedModel so every client (and TF Serving's warmup) gets identical
preprocessing: decode (JPEG/PNG/GIF/BMP, always 3 channels), crop the middle square, then
TF-Slim's Inception eval preprocessing with TF1 resize semantics. The pixel count is read
from the file header and checked before decoding, so a decompression bomb is rejected
without allocating its pixels.
"""

from __future__ import annotations

import tensorflow as tf

from inception_svm_export.architecture import IMAGE_SIZE

# 8192² ≈ 67 MP: larger than any camera photo worth classifying at 224², while a decoded
# RGB image this size (~200 MB) still fits comfortably in a serving container.
MAX_IMAGE_PIXELS = 8192 * 8192
CENTRAL_FRACTION = 0.875
# Recorded in the golden outputs: change it whenever the steps below change what a given
# image becomes, so that a server running older preprocessing is told apart.
PREPROCESSING_VERSION = "decode-rgb/middle-square/slim-eval-0.875/resize-bilinear-tf1-224/v1"

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_GIF_MAGIC = b"GIF"
_BMP_MAGIC = b"BM"


def preprocess_batch(images: tf.Tensor) -> tf.Tensor:
    """string [N] → float32 [N, 224, 224, 3] in [-1, 1]; InvalidArgument names a bad image."""
    indices = tf.range(tf.size(images, out_type=tf.int64))
    return tf.map_fn(
        lambda item: preprocess_image(item[0], item[1]),
        (images, indices),
        fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32),
    )


def preprocess_image(data: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """One encoded image (``index`` only labels error messages) → [224, 224, 3]."""
    width, height = header_dimensions(data)
    within_limit = tf.debugging.Assert(
        width * height <= MAX_IMAGE_PIXELS,
        [
            tf.strings.format(
                "image {}: {}x{} pixels exceeds the limit of {}",
                (index, width, height, MAX_IMAGE_PIXELS),
            )
        ],
    )
    with tf.control_dependencies([within_limit]):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return inception_eval_preprocessing(crop_middle_square(image))


def crop_middle_square(image: tf.Tensor) -> tf.Tensor:
    """The largest centred square, offsets rounded down like ``resize_image_with_crop_or_pad``."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.minimum(height, width)
    return tf.slice(image, [(height - side) // 2, (width - side) // 2, 0], [side, side, 3])


def inception_eval_preprocessing(image: tf.Tensor) -> tf.Tensor:
    """TF-Slim's ``inception_preprocessing.preprocess_for_eval`` for a uint8 [H, W, 3] image."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.image.central_crop(image, central_fraction=CENTRAL_FRACTION)
    # TF1's resize_bilinear (align_corners=False, no half-pixel centers): the weights were
    # trained on this sampling grid, which tf.image.resize (half-pixel) does not reproduce.
    image = tf.raw_ops.ResizeBilinear(
        images=image[tf.newaxis],
        size=[IMAGE_SIZE, IMAGE_SIZE],
        align_corners=False,
        half_pixel_centers=False,
    )[0]
    return (image - 0.5) * 2.0


def header_dimensions(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(width, height) as int64 from the file header, (0, 0) when the format is unknown.

    Unknown or truncated headers are left for the decoder to reject with its own message.
    """
    length = tf.strings.length(data)

    def has_magic(magic: bytes, min_length: int) -> tf.Tensor:
        return tf.logical_and(
            length >= min_length, tf.equal(tf.strings.substr(data, 0, len(magic)), magic)
        )

    def read_ints(pos: int, dtype: tf.DType, little_endian: bool) -> tf.Tensor:
        raw = tf.io.decode_raw(tf.strings.substr(data, pos, 2 * dtype.size), dtype, little_endian)
        return tf.abs(tf.cast(raw, tf.int64))

    def jpeg() -> tf.Tensor:
        height_width = tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64)
        return tf.reverse(height_width, [0])

    dims = tf.case(
        [
            (has_magic(_JPEG_MAGIC, 3), jpeg),
            (has_magic(_PNG_MAGIC, 24), lambda: read_ints(16, tf.int32, False)),  # IHDR
            (has_magic(_GIF_MAGIC, 10), lambda: read_ints(6, tf.uint16, True)),  # screen
            (has_magic(_BMP_MAGIC, 26), lambda: read_ints(18, tf.int32, True)),  # DIB header
        ],
        default=lambda: tf.zeros([2], tf.int64),
        exclusive=False,
    )
    return dims[0], dims[1]
