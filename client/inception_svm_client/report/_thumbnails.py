"""Small JPEG thumbnails for the HTML report, made with Pillow (the ``report`` extra).

Embedding the original files made a page of 2,000 photos weigh 400 MB; a 160-pixel JPEG
is a few KB, so the page stays self-contained (one file to share) and still opens quickly.
Pillow is optional: without it the report lists the images without pictures.
"""

from __future__ import annotations

import base64
import io
import logging
from types import ModuleType

_log = logging.getLogger(__name__)

# Longest side in pixels: twice the 80-pixel row of a phone screen, sharp at 1x on desktop.
THUMBNAIL_PX = 160
JPEG_QUALITY = 70
# Files the classifier already accepted are decoded here once more; the cap keeps a
# malicious or huge file from costing the report seconds or gigabytes.
MAX_THUMBNAIL_SOURCE_PIXELS = 50_000_000
INSTALL_HINT = "pip install 'inception-svm-client[report]'"


def pillow() -> ModuleType | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def thumbnail_data_uri(path: str, image_module: ModuleType) -> str | None:
    """A ``data:image/jpeg;base64,...`` URI, or None when the file cannot be thumbnailed
    (the report then shows the record without a picture, never fails)."""
    Image = image_module
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_THUMBNAIL_SOURCE_PIXELS:
                return None
            # JPEG: decode at 1/2..1/8 scale straight from the DCT, ~5x faster than full size.
            image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            small = ImageOps.exif_transpose(image).convert("RGB")
            small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.BILINEAR)
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        _log.debug("no thumbnail for %s: %s", path, error)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
