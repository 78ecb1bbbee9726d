"""Bring your own microstructures: segmented micrographs as PNG/TIFF files or a numpy stack.

:func:`load_images` turns a folder of images, a single image file, an ``.npy`` array or an
``.npz`` archive (array ``images``) into the ``(n, H, W)`` uint8 0/1 stack every
microstructure tool takes (1 = filler, phase 1). Everything is checked at the boundary and
a message names the file (or the index in a stack) and what would be valid.

How values become phases:

* data that is already 0/1 (or boolean) is taken as is;
* other unsigned-integer data (8- or 16-bit grayscale) is thresholded at ``threshold``
  times the full scale of its type (255, 65535): bright = filler, unless ``invert``;
* float data must lie in [0, 1] and is thresholded at ``threshold``;
* colour images are converted to grayscale first (Pillow's ``"L"`` mode; alpha dropped).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    import os

__all__ = ["IMAGE_SUFFIXES", "STACK_SUFFIXES", "load_images"]

#: Image files read from a folder (case-insensitive).
IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
#: Numpy files holding a whole stack.
STACK_SUFFIXES = (".npy", ".npz")


def load_images(
    path: str | os.PathLike[str], threshold: float = 0.5, invert: bool = False
) -> np.ndarray:
    """Read segmented microstructures as a binary stack.

    Args:
        path: a folder of ``.png``/``.tif``/``.tiff`` files (read in name order; a
            multi-page TIFF gives one image per page), one such file, an ``.npy`` file
            holding ``(n, H, W)`` or ``(H, W)``, or an ``.npz`` archive with that array
            under the key ``images``.
        threshold: the share of full scale above which a grayscale pixel is filler, in
            (0, 1).
        invert: make dark pixels the filler instead of bright ones.

    Returns:
        ``(n, H, W)`` uint8 of 0/1, 1 = filler, with ``H == W``.

    Raises:
        DataError: the path does not exist or has an unsupported suffix; an empty folder;
            an array that is not 2-D or 3-D; images of different sizes or not square;
            values that cannot be read as two phases (NaN, out of [0, 1] for floats,
            negative or non-binary signed integers); a bad threshold.
    """
    if not 0.0 < float(threshold) < 1.0:
        raise DataError(
            f"threshold must lie strictly between 0 and 1 (a share of full scale), got "
            f"{threshold!r}"
        )
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_dir():
        files = sorted(
            p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            others = sorted(p.name for p in source.iterdir())[:5]
            found = f" (it holds: {', '.join(others)})" if others else " (it is empty)"
            raise DataError(
                f"{source}: no image files in this folder{found}; expected "
                f"{'/'.join(IMAGE_SUFFIXES)} files"
            )
        named = [
            (f"{file.name}{page}", image)
            for file in files
            for page, image in _read_image_file(file)
        ]
    elif source.suffix.lower() in IMAGE_SUFFIXES:
        named = [(f"{source.name}{page}", image) for page, image in _read_image_file(source)]
    elif source.suffix.lower() in STACK_SUFFIXES:
        named = _read_stack(source)
    else:
        raise DataError(
            f"{source}: unsupported file type {source.suffix!r}; give a folder of images, "
            f"a {'/'.join(IMAGE_SUFFIXES)} file, or a {'/'.join(STACK_SUFFIXES)} stack"
        )
    return _binary_stack(named, float(threshold), invert)


def _read_image_file(path: Path) -> list[tuple[str, np.ndarray]]:
    """``(page label, 2-D array)`` per page of an image file."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: not a readable image ({err})") from err
    pages = []
    for index, frame in enumerate(frames):
        if frame.mode in ("RGB", "RGBA", "P", "LA", "CMYK", "YCbCr", "HSV", "LAB"):
            frame = frame.convert("L")
        array = np.asarray(frame)
        if frame.mode == "I" and array.size and 0 <= array.min() and array.max() <= 65535:
            # Pillow reads some 16-bit grayscale files as 32-bit integers
            array = array.astype(np.uint16)
        label = f" (page {index})" if len(frames) > 1 else ""
        if array.ndim != 2:
            raise DataError(
                f"{path}{label}: expected a grayscale image, got an array of shape {array.shape}"
            )
        pages.append((label, array))
    return pages


def _read_stack(path: Path) -> list[tuple[str, np.ndarray]]:
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if "images" not in archive.files:
                    raise DataError(
                        f"{path}: no array 'images' in this archive (it holds: "
                        f"{', '.join(archive.files) or 'nothing'})"
                    )
                array = archive["images"]
        else:
            array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:  # a pickled object array raises ValueError here
        raise DataError(f"{path}: not a readable numpy file ({err})") from err
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise DataError(
            f"{path}: expected an (n, H, W) stack or one (H, W) image, got an array of shape "
            f"{array.shape}"
        )
    if len(array) == 0:
        raise DataError(f"{path}: the stack holds no images (shape {array.shape})")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataError(f"{path}: expected numbers, got an array of dtype {array.dtype}")
    return [(f"{path.name}, index {i}", array[i]) for i in range(len(array))]


def _binary_stack(
    named: list[tuple[str, np.ndarray]], threshold: float, invert: bool
) -> np.ndarray:
    first_name, first = named[0]
    for name, image in named:
        if image.shape[0] != image.shape[1]:
            raise DataError(
                f"{name}: the image is {image.shape[0]}x{image.shape[1]} (H x W), not square; "
                f"microstructures must have H == W (crop or pad it)"
            )
        if image.shape != first.shape:
            raise DataError(
                f"{name}: the image is {image.shape[0]}x{image.shape[1]} but the first one, "
                f"{first_name}, is {first.shape[0]}x{first.shape[1]}; all images must have one size"
            )
    stack = np.empty((len(named), *first.shape), dtype=np.uint8)
    for i, (name, image) in enumerate(named):
        stack[i] = _phases(name, image, threshold)
    return 1 - stack if invert else stack


def _phases(name: str, image: np.ndarray, threshold: float) -> np.ndarray:
    """One image as 0/1 following the rules of the module docstring."""
    if image.dtype == bool:
        return image.astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise DataError(
                f"{name}: holds NaN or infinite values; a phase map needs finite values"
            )
        low, high = float(image.min()), float(image.max())
        if low < 0.0 or high > 1.0:
            raise DataError(
                f"{name}: float values must lie in [0, 1] (found {low:g} .. {high:g}); scale "
                f"them or save the image as 8/16-bit integers"
            )
        return (image > threshold).astype(np.uint8)
    low, high = int(image.min()), int(image.max())
    if low >= 0 and high <= 1:
        return image.astype(np.uint8)
    if np.issubdtype(image.dtype, np.unsignedinteger) and image.dtype.itemsize <= 2:
        full_scale = np.iinfo(image.dtype).max
        return (image > threshold * full_scale).astype(np.uint8)
    raise DataError(
        f"{name}: values {low} .. {high} of type {image.dtype} are neither 0/1 nor 8/16-bit "
        f"grayscale; give 0/1 phases, uint8/uint16 grayscale or floats in [0, 1]"
    )
