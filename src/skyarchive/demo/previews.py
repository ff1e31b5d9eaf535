"""Preview JPEGs, as MAST serves next to the FITS products (full-size and thumbnail).

Previews are rendered from the same array written to the FITS file, with a fixed stretch and
fixed encoder settings so the bytes depend only on the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PREVIEW_SIZE = 64
THUMB_SIZE = 16
# Products MAST makes previews for; the others (tables, maps) have none.
PREVIEW_KINDS = frozenset({"uncal", "rate", "cal", "crf", "calints", "crfints", "i2d", "s3d"})


def to_image(data: np.ndarray) -> np.ndarray:
    """A 2-D view of any product array: last group/plane of the first integration."""
    plane = np.asarray(data, dtype=np.float64)
    if plane.ndim == 4:
        plane = plane[0, -1]
    elif plane.ndim == 3:
        plane = plane[0]
    low, high = np.percentile(plane, [1.0, 99.5])
    scaled = (plane - low) / (high - low) if high > low else np.zeros_like(plane)
    return (np.sqrt(np.clip(scaled, 0.0, 1.0)) * 255).astype(np.uint8)


def write_previews(stem: Path, data: np.ndarray) -> list[Path]:
    """Write ``<stem>.jpg`` and ``<stem>_thumb.jpg``; return both paths."""
    image = Image.fromarray(to_image(data))
    paths = []
    for size, path in ((PREVIEW_SIZE, f"{stem}.jpg"), (THUMB_SIZE, f"{stem}_thumb.jpg")):
        resized = image.resize((size, size), Image.Resampling.BILINEAR)
        resized.save(path, format="JPEG", quality=85, optimize=False)
        paths.append(Path(path))
    return paths
