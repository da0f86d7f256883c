"""The NumPy engine behind ``convcalc run``: convolutions and the memory and threads they use.

Imported only by ``forward`` methods and the runner, never by ``convcalc shape``. A run's
settings are one frozen :class:`Config`; its state (kept temporaries, worker threads) is a
:class:`Run`, current while ``with Run(config):`` holds. The convolution's path is chosen by
one pure function (:func:`choose.choose`); :mod:`.reference` defines the right answer.
"""

from __future__ import annotations

from .blas import core as blas_core
from .blas import prepare
from .choose import Case, Path, choose
from .config import Config, default_threads
from .convolution import conv, path_of
from .memory import chunks, item_parts
from .padding import mode_index, pad, padded_rows, windows
from .run import Run, current, scratch, split_run
from .transposed import conv_transpose

__all__ = [
    "Case",
    "Config",
    "Path",
    "Run",
    "blas_core",
    "choose",
    "chunks",
    "conv",
    "conv_transpose",
    "current",
    "default_threads",
    "item_parts",
    "mode_index",
    "pad",
    "path_of",
    "padded_rows",
    "prepare",
    "scratch",
    "split_run",
    "windows",
]
