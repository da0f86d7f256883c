"""Standard and narrow grouped convolution through a column matrix, and wide standard
convolution through one BLAS product per tap: both worked in pieces of items or output rows."""

from __future__ import annotations

import itertools

import numpy as np

from .choose import Case, Path
from .memory import chunks, prod
from .phases import gather_tap, gather_windows, phases
from .run import Run
from .tap_gemm import tap_products

#: (items, output rows) of one piece of work
Piece = tuple[slice, slice]


class Columns:
    """One convolution by ``path`` (columns-input, columns-cropped, columns-flat or tap-gemm).

    The flat layouts come from :func:`~convcalc.kernels.phases.phases` (the zero padding
    applied in the same copy), where every tap is one contiguous run; their few padding
    columns are cropped at the end, with the bias. Columns-input and columns-cropped gather
    the column matrix already cropped to the output grid (from the input, or from the stride
    phases' contiguous runs), and the product, written straight into the output, carries the
    bias as one more column row of ones."""

    def __init__(
        self, run: Run, case: Case, path: Path, x: np.ndarray, w: np.ndarray, b: np.ndarray | None
    ) -> None:
        self.run, self.case, self.x = run, case, x
        self.n, self.c = case.x_shape[:2]
        self.c_out, cig = w.shape[:2]
        self.out = case.out
        self.taps_n = prod(case.kernel)
        self.gemm = run.gemm(x.dtype) if path == "tap-gemm" else None
        self.exact = path in ("columns-input", "columns-cropped")
        self.from_input = path == "columns-input"
        # more taps than output positions: gathered window by window, in pieces of positions
        self.by_window = self.from_input and self.taps_n > prod(self.out)
        self.y = np.empty((self.n, self.c_out, *self.out), dtype=x.dtype)
        self.bias_b = None if b is None else b.reshape((self.c_out,) + (1,) * len(self.out))
        self.garbage = (slice(None),) * 3 + tuple(slice(0, o) for o in self.out[1:])
        sizes = self.out
        if not self.from_input:
            self.flat, self.taps, self.fsizes = phases(
                run, x, case.kernel, case.stride, case.dilation, self.out, case.pads,
                channels_first=self.gemm is not None,
            )  # fmt: skip
            self.fwidth = prod(self.fsizes[1:])
            sizes = self.out if self.exact else self.fsizes
        self.sizes = sizes
        self.width = prod(sizes[1:])
        item = x.itemsize
        if self.gemm is not None:
            # per tap (C_out, C), C-contiguous, in the input's dtype, for pointer products
            wt = np.moveaxis(w.reshape(self.c_out, cig, self.taps_n), 2, 0)
            self.wtap = np.ascontiguousarray(wt, dtype=x.dtype)
            self.per_col = self.c_out * item  # the accumulator only
        else:
            self.wg = w.reshape(case.groups, self.c_out // case.groups, cig * self.taps_n)
            # the column matrix and the product
            self.per_col = (self.c * self.taps_n + 1 + self.c_out) * item
        self.ones = self.exact and case.groups == 1 and b is not None
        if self.ones:
            assert b is not None
            bias = b.reshape(1, self.c_out, 1).astype(self.wg.dtype, copy=False)
            self.wg = np.concatenate([self.wg, bias], axis=2)

    def compute(self) -> np.ndarray:
        """The output, its pieces shared by the worker threads where that pays."""
        self.run.workers.map_gemm(self.work, self.pieces())
        return self.y

    def pieces(self) -> list[Piece]:
        """Whole items, or row ranges of one, each within a piece's share of the budget.

        A column matrix much larger than the caches costs more to write than it saves in BLAS
        calls: pieces of about ``column_piece`` bytes even when the budget allows more; with
        several workers each has a piece in flight, and there are at least as many pieces
        (several pieces of a dense convolution run on the worker threads too: the budget is
        shared by as many as can be in flight)."""
        run, case = self.run, self.case
        per_col, width, rows, n = self.per_col, self.width, self.out[0], self.n
        per_item = per_col * rows * width
        # grouped: many small products, on which BLAS threads poorly; one BLAS thread per
        # worker thread is faster there (dense products measured no better, or worse)
        workers = run.workers.gemm_workers() if case.groups > 1 else 1
        limit = min(
            case.budget // run.workers.gemm_workers(),
            max(run.config.column_piece, per_col * width),
        )
        if workers > 1 and n * rows > 1:
            limit = min(limit, max(per_col * width, -(-per_item * n // workers)))
        limit = max(limit, 1)
        if self.by_window:
            # pieces of flat output positions (one row of them may pass the budget)
            positions = rows * width
            if per_item <= limit:
                return [(b, slice(0, positions)) for b in chunks(n, per_item, limit)]
            return [
                (slice(i, i + 1), p) for i in range(n) for p in chunks(positions, per_col, limit)
            ]
        if per_item <= limit or rows <= 1:
            return [(b, slice(0, rows)) for b in chunks(n, per_item, limit)]
        return [
            (slice(i, i + 1), r) for i in range(n) for r in chunks(rows, per_col * width, limit)
        ]

    def work(self, piece: Piece) -> None:
        if self.gemm is not None:
            self.crop(piece, self.tap_gemm_piece(piece))
        elif self.by_window:
            self.window_piece(piece)
        elif self.exact:
            self.exact_piece(piece)
        else:
            self.crop(piece, self.flat_piece(piece))

    def tap_gemm_piece(self, piece: Piece) -> np.ndarray:
        """One product per tap over the piece's items, accumulated in place; (m, C_out, …)."""
        assert self.gemm is not None
        bs, rs = piece
        m = len(range(*bs.indices(self.n)))
        rows = rs.stop - rs.start
        length = rows * self.width
        # one item (or a row range of one): just its run; several: a flat row each
        f = self.flat.shape[-1] if m > 1 else length
        acc = self.run.scratch("product", (self.c_out, m, f), self.x.dtype)
        base = rs.start * self.width
        tap_products(self.gemm, self.flat, self.wtap, self.taps, bs, base, length, acc)
        # (C_out, m, ...) → (m, C_out, ...): the crop transposes as it copies
        laid = acc[:, :, :length].reshape((self.c_out, m, rows) + self.fsizes[1:])
        return laid.swapaxes(0, 1)

    def flat_piece(self, piece: Piece) -> np.ndarray:
        """The column matrix of whole flat runs, and one product per group; (m, C_out, …)."""
        bs, rs = piece
        m = len(range(*bs.indices(self.n)))
        rows = rs.stop - rs.start
        length = rows * self.width
        base = rs.start * self.width
        cols = self.run.scratch("columns", (m, self.c, self.taps_n, length), self.x.dtype)
        for t, (phase, shift) in enumerate(self.taps):
            cols[:, :, t] = self.flat[phase, bs, :, base + shift : base + shift + length]
        g, cog, k_g = self.wg.shape
        product = self.run.scratch("product", (m, g, cog, length), self.x.dtype)
        np.matmul(self.wg, cols.reshape(m, g, k_g, length), out=product)
        return product.reshape((m, self.c_out, rows) + tuple(self.sizes[1:]))

    def exact_piece(self, piece: Piece) -> None:
        """The column matrix gathered cropped to the output grid, the product written straight
        into the output: whole items, or one item's rows (each output channel's rows are one
        run, the runs the output's channel stride apart: a BLAS matrix)."""
        bs, rs = piece
        case = self.case
        m = len(range(*bs.indices(self.n)))
        rows = rs.stop - rs.start
        positions = rows * prod(self.out[1:])
        depth = self.c * self.taps_n
        cols = self.run.scratch("columns", (m, depth + self.ones, positions), self.x.dtype)
        laid = cols[:, :depth].reshape((m, self.c, self.taps_n, rows) + tuple(self.out[1:]))
        for t, offset in enumerate(itertools.product(*[range(k) for k in case.kernel])):
            self.gather(laid[:, :, t], bs, rs, t, offset)
        if self.ones:
            cols[:, -1] = 1
        target = self.y[bs, :, rs]
        g, cog = case.groups, self.c_out // case.groups
        np.matmul(self.wg, cols.reshape(m, g, -1, positions), out=target.reshape(m, g, cog, -1))
        if self.bias_b is not None and not self.ones:
            target += self.bias_b

    def window_piece(self, piece: Piece) -> None:
        """As :meth:`exact_piece`, for a piece of flat output positions, its column matrix
        gathered window by window (:func:`~convcalc.kernels.phases.gather_windows`)."""
        bs, ps = piece
        case = self.case
        m = len(range(*bs.indices(self.n)))
        count = ps.stop - ps.start
        depth = self.c * self.taps_n
        cols = self.run.scratch("columns", (m, depth + self.ones, count), self.x.dtype)
        laid = cols[:, :depth].reshape(m, self.c, self.taps_n, count)
        x = self.x[bs]
        gather_windows(laid, x, case.kernel, case.stride, case.dilation, case.pads, self.out, ps)
        if self.ones:
            cols[:, -1] = 1
        target = self.y.reshape(self.n, self.c_out, -1)[bs, :, ps]
        g, cog = case.groups, self.c_out // case.groups
        np.matmul(self.wg, cols.reshape(m, g, -1, count), out=target.reshape(m, g, cog, count))
        if self.bias_b is not None and not self.ones:
            target += self.bias_b.reshape(self.c_out, 1)

    def gather(
        self, dst: np.ndarray, bs: slice, rs: slice, t: int, offset: tuple[int, ...]
    ) -> None:
        """Tap ``t``'s view of the piece's input, cropped to the output grid, into ``dst``."""
        case = self.case
        if self.from_input:
            xs = self.x[bs]
            gather_tap(dst, xs, offset, case.stride, case.dilation, case.pads, rs.start)
        else:
            phase, shift = self.taps[t]
            rows = rs.stop - rs.start
            m = dst.shape[0]
            first = rs.start * self.fwidth + shift
            tap_run = self.flat[phase, bs, :, first : first + rows * self.fwidth]
            dst[...] = tap_run.reshape((m, self.c, rows) + self.fsizes[1:])[self.garbage]

    def crop(self, piece: Piece, full: np.ndarray) -> None:
        """The flat product ``full`` cropped into the output, with the bias; the output
        channels shared by the threads on large outputs."""
        bs, rs = piece
        target = self.y[bs, :, rs]
        bias_b = self.bias_b

        def part_crop(part: slice) -> None:
            src = full[:, part][self.garbage]
            if bias_b is not None:
                np.add(src, bias_b[part], out=target[:, part])
            else:
                target[:, part] = src

        self.run.split_run(part_crop, self.c_out, full.shape[0] * (rs.stop - rs.start) * self.width)
