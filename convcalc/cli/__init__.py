"""The command line: a thin shell over the library, and the only importer of click.

Each command parses its options, calls the library and renders; :func:`main` (in app.py)
turns errors into messages and exit codes.
"""

from __future__ import annotations

from . import check as _check  # noqa: F401  (registers check)
from . import commands as _commands  # noqa: F401  (registers shape, run, layers and zoo)
from . import diff as _diff  # noqa: F401  (registers diff)
from . import draw as _draw  # noqa: F401  (registers draw)
from . import explain as _explain  # noqa: F401  (registers explain)
from . import export as _export  # noqa: F401  (registers export)
from . import schema as _schema  # noqa: F401  (registers schema)
from . import sweep as _sweep  # noqa: F401  (registers sweep)
from . import torchio as _torchio  # noqa: F401  (registers import)
from .app import cli, main
from .commands import parse_size
from .options import COLUMNS_HELP

__all__ = ["COLUMNS_HELP", "cli", "main", "parse_size"]
