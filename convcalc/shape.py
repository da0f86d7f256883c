"""Pure-integer size arithmetic, one spatial axis at a time, exactly as PyTorch does it.

No numpy and no layer objects here: every function takes and returns ints, so
the rules can be tested against tables of known cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Shape = tuple[int, ...]

AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    """Output size of a convolution (or max pooling) with symmetric padding ``p``."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_out_padded(size: int, k: int, s: int, total_pad: int, d: int = 1) -> int:
    """Output size of a convolution whose two paddings add up to ``total_pad``."""
    return (size + total_pad - d * (k - 1) - 1) // s + 1


def conv_transpose_out(size: int, k: int, s: int, p: int, d: int = 1, op: int = 0) -> int:
    """Output size of a transposed convolution."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def transpose_phases(
    inp: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int],
    out: Sequence[int],
) -> tuple[list[int], int]:
    """How the transposed-convolution kernel lays out its uncropped output: per stride phase
    an image of ``sizes`` (room for every output position and, on the trailing axes, for the
    input plus each kernel offset's shift ``(o·d) // s``), flat per channel, plus ``tail``
    spare elements. Returns ``(sizes, tail)``."""
    full = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(inp, stride, dilation, kernel)]
    size = [max(f, p + o) for f, p, o in zip(full, padding, out)]
    reach = [(d * (k - 1)) // s for k, s, d in zip(kernel, stride, dilation)]
    sizes = [-(-sz // s) for sz, s in zip(size, stride)]
    sizes = [sizes[0]] + [max(q, i + r) for q, i, r in zip(sizes[1:], inp[1:], reach[1:])]
    width = prod(sizes[1:])
    tail = max(0, (inp[0] + reach[0]) * width - prod(sizes)) + sum(reach[1:]) + width
    return sizes, tail


def pool_out(size: int, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> int:
    """Output size of max or average pooling (average pooling has ``d == 1``).

    With ``ceil_mode`` the division rounds up, but the last window may not start
    in the right padding: if it would, it is dropped.
    """
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = (span + s - 1) // s + 1
        if (out - 1) * s >= size + p:
            out -= 1
        return out
    return span // s + 1


def same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """(left, right) padding that keeps the size for ``padding='same'``.

    The total is ``d*(k-1)``; with an odd total the extra pixel goes right.
    """
    total = d * (k - 1)
    return total // 2, total - total // 2


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """Half-open input ranges of adaptive pooling: ``[floor(i*in/out), ceil((i+1)*in/out))``."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def prod(values: Iterable[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def fmt_shape(shape: Sequence[int]) -> str:
    """``(1, 16, 13, 13)``; a one-element shape keeps Python's trailing comma."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(v) for v in shape) + ")"


def fmt_product(values: Sequence[int]) -> str:
    return "×".join(str(v) for v in values)
