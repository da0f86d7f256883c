"""Where a config's text comes from: a file, standard input, a built-in model of that name, or
an ``import:`` -- each read within a size limit, so that a file that never ends (``/dev/zero``)
or a device is an error, not all of the memory."""

from __future__ import annotations

import os
import select
import stat
from typing import Protocol

from .errors import SpecError


class Files(Protocol):
    """Where ``import:`` files are read from when not from the file system (a git revision)."""

    def read(self, path: str, location: str | None) -> str | None:
        """The text of ``path`` (relative to the current folder), or None where there is
        no such file; a SpecError where there is one that cannot be read."""


#: the largest config read (a 50,000-layer stack is about 2.5 MB): a file that never ends
#: (``import: /dev/zero``) is an error, not all of the memory
MAX_FILE_CHARS = 64 << 20
#: the longest a named pipe given as FILE may stay silent, in seconds: opening one waits for a
#: writer, which may never come (``mkfifo net.yaml``); ``<(cmd)`` has one from the start
PIPE_WAIT = 10.0


def read_text(path: str) -> str:
    import sys

    try:
        if path == "-":  # read as bytes: the text stream may have decoded anything at all
            text = sys.stdin.buffer.read(MAX_FILE_CHARS + 1).decode("utf-8")
        elif _is_pipe(path):
            text = _read_pipe(path).decode("utf-8")
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_FILE_CHARS + 1)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        name = "<stdin>" if path == "-" else path
        raise SpecError(f"{name}: not a text file (it is not UTF-8)") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(text) > MAX_FILE_CHARS:
        name = "<stdin>" if path == "-" else path
        raise SpecError(f"{name}: longer than {MAX_FILE_CHARS >> 20} MiB, too long for a config")
    return text


def _is_pipe(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False  # opening it says what is wrong


def _read_pipe(path: str) -> bytes:
    """What a pipe (a named one, or ``<(cmd)``'s) holds, up to MAX_FILE_CHARS + 1 bytes, waiting
    at most PIPE_WAIT seconds for each piece: opened without waiting for a writer, so that a
    pipe nobody writes to is an error, not a wait without end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        ready = select.poll()
        ready.register(fd, select.POLLIN)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_CHARS:
            if not ready.poll(PIPE_WAIT * 1000):
                said = f"after {size:,} bytes " if size else ""
                raise SpecError(
                    f"{path}: a pipe that sent nothing {said}for {PIPE_WAIT:g} s",
                    hint="start what writes to it first, or save the config to a file",
                )
            chunk = os.read(fd, min(1 << 20, MAX_FILE_CHARS + 1 - size))
            if not chunk:  # every writer closed it
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_model(path: str) -> tuple[str, str]:
    """``(source, text)`` of FILE: a file, standard input, or else a built-in model of that name."""
    if path == "-":
        return "<stdin>", read_text(path)
    if not os.path.lexists(path) or os.path.isdir(path):
        from . import zoo

        if (
            zoo.find(path) is not None
        ):  # a folder called resnet50 (of checkpoints, say) is no config
            return zoo.read(path)
        if not os.path.lexists(path):
            raise SpecError(f"{path}: no such file", hint=zoo.missing_file_hint(path))
    return path, read_text(path)


def read_import(
    name: str, base: str, location: str | None, files: Files | None = None
) -> tuple[str, str]:
    """``(path, text)`` of an ``import:``, relative to the importing file; read from ``files``
    when given, else from the file system.

    A ``blocks.yaml`` that is not there is the built-in block library, so that a zoo
    model copied anywhere keeps working.
    """
    path = os.path.normpath(os.path.join(base, name))
    if files is not None:
        text = files.read(path, location)
        if text is not None:
            return path, text
    elif os.path.exists(path):
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a folder, a device, a pipe: nothing to import
            raise SpecError(
                f"import {name!r}: {path} is not a file",
                location=location,
                hint="import a YAML file",
            )
        if info.st_size > MAX_FILE_CHARS:
            raise SpecError(
                f"import {name!r}: {path} is larger than {MAX_FILE_CHARS >> 20} MiB, too large for a config",
                location=location,
            )
        return path, read_text(path)
    from . import zoo

    if os.path.basename(path) == zoo.BLOCKS:
        return zoo.block_library()
    raise SpecError(
        f"import {name!r}: no such file ({path})",
        location=location,
        hint="import paths are relative to the importing file",
    )
