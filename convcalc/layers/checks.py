"""Checks, notes and names that several layer families share: an input's rank, spatial
axes and non-empty sizes, positive arguments, the note on input rows a window never
reaches, and the words for an axis or a per-axis value in messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ShapeError
from ..shape import AXES, Shape, fmt_shape
from .arguments import compact


def spatial_input(x: Shape, nd: int, what: str = "input") -> tuple[int, Shape]:
    """Check that ``x`` is (C, *spatial) or (N, C, *spatial) with ``nd`` spatial dims.

    Returns the channel dimension's index and the spatial sizes.
    """
    if len(x) not in (nd + 1, nd + 2):
        axes = ", ".join(AXES[nd])
        fits = [d for d in (1, 2, 3) if len(x) in (d + 1, d + 2)]
        raise ShapeError(
            f"expects a {nd + 1}D (C, {axes}) or {nd + 2}D (N, C, {axes}) {what}, "
            f"receives {len(x)}D {fmt_shape(x)}",
            argument="input",
            expected=f"{nd + 1}D or {nd + 2}D",
            got=len(x),
            hint=(f"a {len(x)}D input suits the {fits[-1]}d layer types" if fits else None),
        )
    return len(x) - nd - 1, x[len(x) - nd :]


def rank_error(text: str, x: Shape, expected: str, hint: str | None = None) -> ShapeError:
    """``<text>, receives 2D (4, 5)``: an input of the wrong rank."""
    return ShapeError(
        f"{text}, receives {len(x)}D {fmt_shape(x)}",
        argument="input",
        expected=expected,
        got=len(x),
        hint=hint,
    )


def require_rank(x: Shape, minimum: int, layout: str, hint: str | None = None) -> None:
    """``expects an input of at least 3 dimensions (N, C, *), receives 2D (4, 5)``."""
    if len(x) < minimum:
        plural = "dimension" if minimum == 1 else "dimensions"
        raise rank_error(
            f"expects an input of at least {minimum} {plural} {layout}",
            x,
            f"at least {minimum}D",
            hint,
        )


def spatial_example(nd: int, channels: int = 8, size: int = 6) -> Shape:
    """(1, 8, 6, …): an input shape for a layer's documented example."""
    return (1, channels) + (size,) * nd


def batch_size(x: Shape, channel_dim: int) -> int:
    return x[0] if channel_dim == 1 else 1


def check_positive(name: str, values: int | tuple[int, ...], what: str, minimum: int = 1) -> None:
    """``stride must be positive, got 0``: for one value or a tuple of them."""
    for v in values if isinstance(values, tuple) else (values,):  # a plain loop: runs per layer
        if v < minimum:
            raise ShapeError(
                f"{name} must be {what}, got {compact(values)}",
                argument=name,
                expected=what,
                got=values,
            )


_UNITS = {
    "L": ("element", "elements"),
    "D": ("plane", "planes"),
    "H": ("row", "rows"),
    "W": ("column", "columns"),
}


#: the words every note on trailing input that no window reaches contains (the floored
#: divisions of convolution and pooling): what ``sweep`` and ``check --strict`` look for
UNCOVERED = "not covered"


def floor_note(
    axes: Sequence[str],
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
) -> str | None:
    """A note when the size formula does not divide exactly and trailing input is never reached.

    ``H, W: 3.5 → 3: the last row and column are not covered``. Only input counts: a stride-2
    3×3 convolution with padding 1 on 56 rows leaves out a row of padding and reads every row;
    with dilation, the last rows read are those the taps land on.
    """
    lost = []
    for axis, n, k, s, (left, right), d in zip(axes, sizes, kernel, stride, pads, dilation):
        span = n + left + right - d * (k - 1) - 1
        if span < 0 or (not span % s and d == 1):
            continue
        unread = trailing_unread(n, k, s, left, d, span // s + 1)
        if unread:
            lost.append((axis, span / s + 1, span // s + 1, unread))
    if not lost:
        return None
    if any(e == f for _, e, f, _ in lost):  # the division is exact: the dilated taps skip them
        return "; ".join(
            f"{a}: the last {_UNITS[a][0] if r == 1 else f'{r} {_UNITS[a][1]}'} "
            f"{'is' if r == 1 else 'are'} {UNCOVERED} (the last window's taps fall in the padding)"
            for a, _, _, r in lost
        )
    if len({(e, f) for _, e, f, _ in lost}) == 1:
        head = f"{', '.join(a for a, *_ in lost)}: {lost[0][1]:g} → {lost[0][2]}"
    else:
        head = "; ".join(f"{a}: {e:g} → {f}" for a, e, f, _ in lost)
    what = " and ".join(_UNITS[a][0] if r == 1 else f"{r} {_UNITS[a][1]}" for a, _, _, r in lost)
    verb = "is" if len(lost) == 1 and lost[0][3] == 1 else "are"
    return f"{head}: the last {what} {verb} {UNCOVERED}"


def trailing_unread(n: int, k: int, s: int, left: int, d: int, out: int) -> int:
    """How many of the last input elements along an axis no window reads: ``out`` windows at
    stride ``s`` over the input padded by ``left``, each of ``k`` taps ``d`` apart."""
    last = left + n - 1  # the last input element, in padded coordinates
    read = -1
    for j in range(k):
        tap = j * d
        if tap > last:
            break
        w = min(out - 1, (last - tap) // s)
        read = max(read, tap + w * s)
    return n if read < left else last - read


def axis_name(rank: int, dim: int) -> str:
    """A readable name for dimension ``dim`` of a ``rank``-D tensor ("W", "H", "D" or "dim 1")."""
    from_end = rank - dim
    return ("W", "H", "D")[from_end - 1] if from_end <= 3 else f"dim {dim}"


def show_values(values: Sequence[Any]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "(" + ", ".join(map(str, values)) + ")"


def check_nonempty(x: Shape, first: int, cdim: int, nd: int) -> None:
    """Sizes from ``x[first]`` on must be positive (PyTorch: only the batch size may be 0)."""
    for i in range(first, len(x)):
        if x[i] == 0:
            axis = "C" if i == cdim else AXES[nd][i - cdim - 1]
            raise ShapeError(
                f"expects non-zero sizes except the batch size, receives {fmt_shape(x)} with {axis} = 0",
                argument="input",
                expected="a size of at least 1",
                got=0,
                dim=i,
                hint="a layer before it produces an empty dimension",
            )


RETURN_INDICES_NOTE = "return_indices=True returns (output, indices): in nn.Sequential the next layer receives a tuple"


def spatial_origin(layer: Any, x: Shape, y: Shape, dim: int) -> str | None:
    """``H 26 → 13 by MaxPool2d(kernel_size=2)``: how a pooling layer set a spatial size."""
    first = len(y) - layer.nd
    if dim < first:
        return None
    return f"{AXES[layer.nd][dim - first]} {x[dim]} → {y[dim]} by {layer.call_string()}"
