"""Checks of COCO segmentations made before pycocotools sees them.

Why: pycocotools' C code trusts its input. Polygon coordinates far outside the image overflow
its integer grid and crash the whole process (SIGSEGV); RLE counts that are not a valid
compressed string, are negative, or do not sum to the image area decode to garbage masks.
These checks run in Python first, so a bad predictions file ends in one message instead.
"""

from __future__ import annotations

from poison_tf.errors import UserInputError


def check_extent(values: list, size: tuple[int, int], where: str, what: str) -> None:
    """Coordinates must stay within one image size of the image: pycocotools scales polygons
    into C ints, and far-away points overflow them."""
    margin = float(max(size))
    low, high = min(values), max(values)
    if low < -margin or high > 2 * margin:
        raise UserInputError(
            f"{where}: {what} coordinates {low:g}..{high:g} lie far outside the "
            f"{size[1]}x{size[0]} image"
        )


def rle_counts_from_string(counts: str, where: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (a port of pycocotools' rleFrString).

    Each count is a little-endian run of 5-bit groups stored as characters 48..111 (bit 0x20
    = more groups follow, bit 0x10 of the last = negative); from the third count on, the value
    is a difference to the count two before.
    """
    values: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise UserInputError(f"{where}: RLE counts string ends inside a number")
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                raise UserInputError(
                    f"{where}: RLE counts string has the character {counts[position]!r}, "
                    "outside the compressed-RLE alphabet ('0'..'o')"
                )
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position, shift = position + 1, shift + 5
            if not more and code & 0x10:
                value |= -1 << shift
        if len(values) > 2:
            value += values[-2]
        values.append(value)
    return values


def check_rle_counts(counts, size: tuple[int, int], where: str) -> None:
    """RLE counts: a compressed string or a list of ints, non-negative, summing to h*w."""
    if isinstance(counts, str):
        runs = rle_counts_from_string(counts, where)
    elif isinstance(counts, list) and all(
        isinstance(c, int) and not isinstance(c, bool) for c in counts
    ):
        runs = counts
    else:
        raise UserInputError(
            f"{where}: RLE counts must be a compressed string or a list of integers, "
            f"got {type(counts).__name__}"
        )
    if any(c < 0 for c in runs):
        raise UserInputError(f"{where}: RLE counts hold a negative run length")
    area = size[0] * size[1]
    if sum(runs) != area:
        raise UserInputError(
            f"{where}: RLE counts sum to {sum(runs)} pixels, but the {size[1]}x{size[0]} image "
            f"has {area}"
        )
