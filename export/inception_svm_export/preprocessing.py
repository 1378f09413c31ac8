"""Encoded image bytes → the [224, 224, 3] float input Inception v1 was trained on.

Runs inside the SavedModel so every client (and TF Serving's warmup) gets identical
preprocessing: decode (JPEG/PNG/GIF/BMP, always 3 channels), crop the middle square, then
TF-Slim's Inception eval preprocessing with TF1 resize semantics. The pixel count is read
from the file header and checked before decoding, so a decompression bomb is rejected
without allocating its pixels.

``preprocess_image`` is the reference definition. The export runs
``preprocess_image_crop_decode`` (``DEFAULT_PREPROCESS``, issue 26): for JPEGs it decodes only
the window the network sees and gives the very same pixels, bit for bit
(tests/export/test_preprocessing.py proves it on every bundled photo and odd encodings, down
to identical logits), so the served numerics do not change and PREPROCESSING_VERSION stays;
other formats take ``preprocess_image``'s path. ``preprocess_image_dct_scaled`` also lets
libjpeg downscale in the DCT domain, which changes the pixels and so the logits: not used.
``make bench`` section 7 measures all three.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from inception_svm_export.architecture import IMAGE_SIZE
from inception_svm_serving import header_dimensions, is_jpeg

# 8192² ≈ 67 MP: larger than any camera photo worth classifying at 224², while a decoded
# RGB image this size (~200 MB) still fits comfortably in a serving container.
MAX_IMAGE_PIXELS = 8192 * 8192
CENTRAL_FRACTION = 0.875
# Recorded in the golden outputs: change it whenever the steps below change what a given
# image becomes, so that a server running older preprocessing is told apart.
PREPROCESSING_VERSION = "decode-rgb/middle-square/slim-eval-0.875/resize-bilinear-tf1-224/v1"


def preprocess_batch(
    images: tf.Tensor,
    preprocess: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
) -> tf.Tensor:
    """string [N] → float32 [N, 224, 224, 3] in [-1, 1]; InvalidArgument names a bad image.

    ``preprocess`` (default ``DEFAULT_PREPROCESS``, what the export serves) lets the tests
    and benchmarks run the variants below through the same batching."""
    preprocess = preprocess or DEFAULT_PREPROCESS
    indices = tf.range(tf.size(images, out_type=tf.int64))
    return tf.map_fn(
        lambda item: preprocess(item[0], item[1]),
        (images, indices),
        fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32),
    )


def preprocess_image(data: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """One encoded image (``index`` only labels error messages) → [224, 224, 3]."""
    with tf.control_dependencies([_within_pixel_limit(data, index)]):
        image = _decode_any(data)
    return inception_eval_preprocessing(crop_middle_square(image))


def preprocess_image_crop_decode(data: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """``preprocess_image`` with JPEGs decoded only around the window the network sees.

    The middle square and the 87.5 % central crop are one window of the full image, so
    libjpeg can skip the rows above and below it and the MCU columns left and right of it
    (``decode_and_crop_jpeg``). Decoding exactly the window is NOT pixel-identical: chroma
    upsampling treats the decoded region's edge as the image's edge, which changes the
    outermost column by up to 15 levels (4:2:0/4:2:2, progressive, whenever the edge is not
    an image edge). So a margin of ``_JPEG_WINDOW_MARGIN`` pixels (one iMCU at the largest
    sampling factor) is decoded around it and sliced off: same pixels, hence same logits,
    as ``preprocess_image``. Other formats take ``preprocess_image``'s path unchanged (a
    GIF's header gives its screen size, which its frame need not have).
    """
    width, height = header_dimensions(data)
    height_32, width_32 = tf.cast(height, tf.int32), tf.cast(width, tf.int32)
    window = crop_window(height_32, width_32)
    top_left = tf.maximum(window[:2] - _JPEG_WINDOW_MARGIN, 0)
    bottom_right = tf.minimum(window[:2] + window[2:] + _JPEG_WINDOW_MARGIN, [height_32, width_32])
    decoded_window = tf.concat([top_left, bottom_right - top_left], 0)
    inner_window = tf.concat([window[:2] - top_left, window[2:]], 0)

    def jpeg_window() -> tf.Tensor:
        image = tf.image.decode_and_crop_jpeg(data, decoded_window, channels=3)
        image = _slice_window(image, inner_window)
        return resize_to_network_input(tf.image.convert_image_dtype(image, tf.float32))

    def other_format() -> tf.Tensor:
        return inception_eval_preprocessing(crop_middle_square(_decode_any(data)))

    with tf.control_dependencies([_within_pixel_limit(data, index, (width, height))]):
        return tf.cond(is_jpeg(data), jpeg_window, other_format)


# What the export's signatures run: the crop-window decode, proven bit-identical to
# ``preprocess_image`` (tests/export/test_preprocessing.py) and faster on large JPEGs.
DEFAULT_PREPROCESS = preprocess_image_crop_decode

# JPEG sampling factors go up to 4, so an iMCU is at most 32 pixels wide or high.
_JPEG_WINDOW_MARGIN = 32

# libjpeg's DCT-domain scaling factors (decode_jpeg's ``ratio``), largest first.
DCT_RATIOS = (8, 4, 2)


def preprocess_image_dct_scaled(
    data: tf.Tensor, index: tf.Tensor, min_side: int = IMAGE_SIZE
) -> tf.Tensor:
    """``preprocess_image`` with JPEGs downscaled by 2, 4 or 8 while decoding. CHANGES NUMERICS.

    libjpeg's scaled IDCT produces the image at 1/ratio of its size for a fraction of the
    work; the largest ratio is chosen whose central crop still has at least ``min_side``
    pixels a side, so the network's input is still a downscale. The pixels are not those
    the weights were evaluated on (the scaled IDCT averages, bilinear resize samples), so the
    logits drift: ``make bench`` reports by how much. Off by default; other formats take
    ``preprocess_image``'s path.
    """
    width, height = header_dimensions(data)
    side = tf.cast(tf.minimum(width, height), tf.float32) * CENTRAL_FRACTION

    def decode_scaled(ratio: int) -> Callable[[], tf.Tensor]:
        return lambda: tf.io.decode_jpeg(data, channels=3, ratio=ratio)

    branches = [
        (tf.logical_and(is_jpeg(data), side >= ratio * min_side), decode_scaled(ratio))
        for ratio in DCT_RATIOS
    ]
    with tf.control_dependencies([_within_pixel_limit(data, index, (width, height))]):
        image = tf.case(branches, default=lambda: _decode_any(data), exclusive=False)
    image.set_shape([None, None, 3])
    return inception_eval_preprocessing(crop_middle_square(image))


def _within_pixel_limit(
    data: tf.Tensor, index: tf.Tensor, dimensions: tuple[tf.Tensor, tf.Tensor] | None = None
) -> tf.Operation:
    width, height = dimensions if dimensions is not None else header_dimensions(data)
    return tf.debugging.Assert(
        width * height <= MAX_IMAGE_PIXELS,
        [
            tf.strings.format(
                "image {}: {}x{} pixels exceeds the limit of {}",
                (index, width, height, MAX_IMAGE_PIXELS),
            )
        ],
    )


def _decode_any(data: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def crop_window(height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """[y, x, height, width] (int32) of the pixels ``preprocess_image`` resizes, in the full
    image: the middle square of ``crop_middle_square``, then ``tf.image.central_crop``'s box
    with its own arithmetic (float64 start, truncated; size = side - 2 * start)."""
    side = tf.minimum(height, width)
    side_f64 = tf.cast(side, tf.float64)
    start = tf.cast((side_f64 - side_f64 * CENTRAL_FRACTION) / 2, tf.int32)
    size = side - 2 * start
    return tf.stack([(height - side) // 2 + start, (width - side) // 2 + start, size, size])


def _slice_window(image: tf.Tensor, window: tf.Tensor) -> tf.Tensor:
    return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])


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
    return resize_to_network_input(image)


def resize_to_network_input(image: tf.Tensor) -> tf.Tensor:
    """float32 [H, W, 3] in [0, 1], already cropped → [224, 224, 3] in [-1, 1]."""
    # TF1's resize_bilinear (align_corners=False, no half-pixel centers): the weights were
    # trained on this sampling grid, which tf.image.resize (half-pixel) does not reproduce.
    image = tf.raw_ops.ResizeBilinear(
        images=image[tf.newaxis],
        size=[IMAGE_SIZE, IMAGE_SIZE],
        align_corners=False,
        half_pixel_centers=False,
    )[0]
    return (image - 0.5) * 2.0
