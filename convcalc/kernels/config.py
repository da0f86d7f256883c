"""The kernels' settings: one frozen object, passed down, never changed while a run goes on.

Every threshold that picks a convolution's path lives here with the measurement behind it;
:func:`~convcalc.kernels.choose.choose` reads them, and a test or a benchmark changes one with
``dataclasses.replace(Config(), ...)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..cores import MOST_THREADS, cpu_count


@functools.cache
def machine_cores() -> int:
    """The cores this process may run on (looked up once, see :mod:`convcalc.cores`)."""
    return cpu_count()


def default_threads() -> int:
    """The threads a run uses when neither its caller nor the machine's load names a number
    (``run_forward`` measures the load, :mod:`convcalc.cores` decides): the one place here."""
    return machine_cores()


@dataclass(frozen=True)
class Config:
    """How the kernels run: threads, memory kept between calls, and the measured thresholds
    between the convolution paths (see ``benchmarks/README.md``)."""

    #: at most this many threads, ours and BLAS's (None: :func:`default_threads`, BLAS's own
    #: thread count left as found)
    threads: int | None = None
    #: temporaries up to this size are kept between calls for reuse (per thread and purpose)
    scratch_keep: int = 16 << 20
    #: multiply through OpenBLAS's cblas_?gemm directly when it is found (off: NumPy's matmul)
    direct_gemm: bool = True
    #: element-wise work on at least this many elements is split between the cores (measured:
    #: on smaller tensors a second thread costs more than it saves)
    parallel_min: int = 1 << 20
    #: the size of the column-matrix pieces a convolution works in (bytes), measured best
    column_piece: int = 16 << 20
    #: standard convolutions with at most this many output positions (per item) and at least
    #: this many input channels gather their column matrix channels-last (faster up to 16×16)
    channels_last_max_positions: int = 256
    channels_last_min_channels: int = 16
    #: grouped ones (with wide groups) up to this many positions (faster at 7×7, slower at
    #: 14×14 than the per-tap products over blocks of groups)
    grouped_channels_last_max_positions: int = 64
    #: grouped convolution multiplies straight on the flat runs (no column matrix) from this C/g
    grouped_direct_min: int = 8
    #: grouped convolutions (with wide groups) whose products are at least this long (output
    #: rows × padded width) go through BLAS on pointers, one call per group and tap
    grouped_pointer_min_length: int = 2048
    #: bytes of accumulator and tap product a block of groups works on (about half the L2)
    grouped_block: int = 1 << 20
    #: output rows at least this long are gathered into the column matrix already cropped
    exact_min_width: int = 32
    #: so are shorter ones, on one thread, for stride-1 convolutions with this many outputs
    exact_min_channels: int = 256
    #: from this C_in and this many output positions (flat, with the padding columns) on,
    #: standard convolution is one BLAS product per tap, accumulated in place
    tap_gemm_min: int = 16
    tap_gemm_min_length: int = 1024
    #: ... and from this many taps on, whatever C_in: the column matrix of a large kernel on
    #: few channels is gathered in pieces, tap by tap per piece, its Python steps growing with
    #: the square of the taps (Conv2d(8, 8, 63) on 128×128: 0.5 GMAC/s against 7.4 per tap,
    #: Conv1d(1, 1, 2000): 0.15 against 2.5; 3-10× faster from 5×5 on 4-8 channels, but not
    #: a ResNet's 7×7 stem from 3 channels at stride 2, which keeps the column matrix)
    tap_gemm_many_taps: int = 64
    #: kernels with at least this many taps, and more taps than output positions, gather their
    #: column matrix from the input one window at a time (one copy per output position, not
    #: per tap; depthwise and grouped too): a 511×511 kernel on 512×512 has 261,121 taps
    #: and 4 positions
    many_taps_min: int = 1024
    #: from this many stride phases on, an axis whose stride passes the kernel's span keeps
    #: only the input its windows read (fewer phases are laid out faster than gathered)
    sparse_stride_min: int = 64
    #: strided depthwise convolution (2-d, 3-d) gathers its taps cropped from the input from
    #: this output width on; narrower, from the stride phases' flat runs (10-45 % faster on one
    #: thread at every width, the more so the larger the kernel), unless see below
    strided_depthwise_exact_min_width: int = 1 << 30
    #: ... or when its gathered taps are large enough to share between two threads and the
    #: kernel has at most this many taps (10-30 % faster for a 3×3 at 2 threads from 8 MiB)
    strided_depthwise_exact_max_taps: int = 9
    #: bytes of tap columns a depthwise block gathers (4 MiB measured 10–25 % faster than 1)
    depthwise_block: int = 4 << 20
    #: stride-1 depthwise convolution with the input's own output grid gathers by flat shifts
    shifted_depthwise: bool = True
    #: depthwise work on this many bytes of gathered taps in all is shared by two threads
    depthwise_parallel_min: int = 8 << 20

    @property
    def workers(self) -> int:
        """Threads of our own for the parts BLAS does not parallelise."""
        return max(1, min(MOST_THREADS, self.threads or default_threads()))
