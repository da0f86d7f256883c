"""The shared rules of element-wise layers (activations, softmax, dropout): :class:`Pointwise`
keeps the input's shape, has no parameters and no MACs, and runs its NumPy kernel over flat
chunks of the input, in place where it may."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal

from ..shape import Shape, prod
from .arguments import Arg, to_bool
from .base import Layer

INPLACE = Arg("inplace", to_bool, False)

if TYPE_CHECKING:
    from .base import Array


class Pointwise(Layer):
    """Applied element by element: the output has the input's shape; no parameters, no MACs.

    Subclasses give the NumPy kernel as one of three methods and name it in ``KERNEL``:
    :meth:`fn` (the default), applied to flat chunks of the input, :meth:`into` or
    :meth:`chain`. ``TEMPS`` is how many input-sized temporaries it allocates (for
    :meth:`workspace`).
    """

    # Layer's defaults already say so: out_shape(x) = x, weights = {}, macs = 0
    TEMPS: ClassVar[int] = 2
    #: the method that holds the NumPy kernel: "fn", "into" or "chain"
    KERNEL: ClassVar[Literal["fn", "into", "chain"]] = "fn"
    #: torch writes the result over the input (the activations' inplace=True)
    inplace: bool = False

    def fn(self, x: Array) -> Array:
        """The activation of a 1-D chunk ``x``, same dtype."""
        return self.into(x, None)

    def into(self, x: Array, out: Array | None) -> Array:
        """A kernel that is ONE NumPy call defines this instead of :meth:`fn`: the activation
        of ``x`` written into ``out`` (None: a new array). It then runs over the whole input
        at once (split between the cores), not block by block."""
        raise NotImplementedError(f"{self.type_name} has no NumPy kernel yet")

    def chain(self, x: Array, out: Array) -> None:
        """A kernel of several NumPy calls may define this instead of :meth:`fn`: the
        activation of the block ``x`` computed in ``out`` (never ``x`` itself), using ``out``
        and at most a few kept :func:`~convcalc.kernels.scratch` blocks as its temporaries;
        it then runs block by block without allocating."""
        raise NotImplementedError

    REUSES_INPUT = True

    def mutates_input(self) -> bool:
        return self.inplace

    def forward(self, x: Array, w: dict[str, Array], budget: int) -> Array:
        return self.forward_into(x, w, budget, None)

    def forward_into(self, x: Array, w: dict[str, Array], budget: int, out: Array | None) -> Array:
        if self.KERNEL == "into":
            import numpy as np

            from ..kernels import split_run

            out = np.empty(x.shape, dtype=x.dtype) if out is None else out
            src = np.ascontiguousarray(x).reshape(-1)
            dst = out.reshape(-1)
            split_run(lambda part: self.into(src[part], dst[part]), src.size)
            return out
        if self.KERNEL == "chain":
            return chained(self.chain, x, out)
        return elementwise(self.fn, x, budget, self.TEMPS, out)

    def workspace(self, x: Shape, y: Shape) -> int:
        return self.TEMPS * prod(x)


def elementwise(
    fn: Callable[[Array], Array], x: Array, budget: int, temps: int, out: Array | None = None
) -> Array:
    """Apply ``fn`` to flat chunks of ``x`` whose ``temps`` temporaries fit in ``budget`` bytes,
    into ``out`` if given (it may be ``x`` itself: each chunk is read before it is written).
    Large inputs are shared between the cores, chunk by chunk."""
    import numpy as np

    from ..kernels import chunks, split_run

    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    src = np.ascontiguousarray(x).reshape(-1)
    dst = out.reshape(-1)
    # cache-sized blocks: a chain of NumPy operations then runs from L2, not from memory
    budget = min(budget, CACHE_BLOCK * max(temps, 1) * x.itemsize)

    def part(span: slice) -> None:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for piece in chunks(span.stop - span.start, max(temps, 1) * x.itemsize, budget):
                block = slice(span.start + piece.start, span.start + piece.stop)
                dst[block] = fn(src[block])

    split_run(part, src.size)
    return out


def chained(fn: Callable[[Array, Array], None], x: Array, out: Array | None = None) -> Array:
    """Run an in-place chain ``fn(block, out_block)`` (see :meth:`Pointwise.chain`) over ``x``
    block by block, into ``out`` if given; where ``out`` is ``x`` itself, each block is
    computed in a kept temporary and copied back. Large inputs are shared between the cores."""
    import numpy as np

    from ..kernels import scratch, split_run

    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    src = np.ascontiguousarray(x).reshape(-1)
    dst = out.reshape(-1)
    aliased = np.shares_memory(src, dst)

    def part(span: slice) -> None:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for start in range(span.start, span.stop, CHAIN_BLOCK):
                block = slice(start, min(start + CHAIN_BLOCK, span.stop))
                if aliased:
                    tmp = scratch("activation", (block.stop - block.start,), x.dtype)
                    fn(src[block], tmp)
                    dst[block] = tmp
                else:
                    fn(src[block], dst[block])

    split_run(part, src.size)
    return out


#: elements per block of an element-wise kernel
CACHE_BLOCK = 1 << 14
#: elements per block of an in-place chain (its temporaries are block-sized)
CHAIN_BLOCK = 1 << 16
