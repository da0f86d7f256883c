"""Moved to :mod:`convcalc.kernels`: what the layers import from here, until they import it there."""

from .kernels import chunks, conv, conv_transpose, item_parts, pad, padded_rows, scratch, split_run

__all__ = [
    "chunks",
    "conv",
    "conv_transpose",
    "item_parts",
    "pad",
    "padded_rows",
    "scratch",
    "split_run",
]
