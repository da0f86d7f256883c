"""Files as they were at a git revision, read by running ``git`` (``git show REV:path``): what
``convcalc diff --git REV FILE`` compares the working copy with, its imports included."""

from __future__ import annotations

import os
import subprocess

from .errors import SpecError
from .sources import MAX_FILE_CHARS

#: how long one git command may take, in seconds (reading one file is a matter of milliseconds)
GIT_TIMEOUT = 60


class GitRevision:
    """The files of the repository that holds ``file``, as they are at revision ``rev``
    (a commit, branch or tag, anything ``git rev-parse`` takes)."""

    def __init__(self, rev: str, file: str) -> None:
        self.rev = rev
        self.folder = os.path.dirname(os.path.abspath(file))
        if not os.path.isdir(self.folder):
            raise SpecError(
                f"{file}: no such folder, so no git repository to read it from",
                hint="give the path of a file in a git repository",
            )
        top = self._git("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            said = top.stderr.decode("utf-8", "replace").strip().splitlines()
            if said and "not a git repository" not in said[0]:  # a repository git refuses
                raise SpecError(f"--git: git cannot read the repository of {file}: {said[0]}")
            raise SpecError(
                f"--git: {file} is not in a git repository",
                hint="--git compares a file with its version at a commit of its repository; "
                "without --git, diff compares two files",
            )
        self.root = os.path.realpath(top.stdout.decode("utf-8", "replace").strip())
        found = None
        if rev and not rev.startswith("-"):
            found = self._git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"
            )
        if found is None or found.returncode != 0:
            raise SpecError(
                f"--git {rev}: unknown revision",
                hint="give a commit, branch or tag (git log --oneline lists the commits)",
            )
        self.commit = found.stdout.decode("ascii").strip()

    def _git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.folder,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise SpecError(
                "--git: git is not installed (or not on PATH)",
                hint="install git, or compare two files: convcalc diff OLD NEW",
            ) from None
        except subprocess.TimeoutExpired:
            raise SpecError(f"--git: git {args[0]} took over {GIT_TIMEOUT} s") from None
        except OSError as exc:
            raise SpecError(f"--git: cannot run git ({exc.strerror})") from None

    def in_repository(self, path: str) -> str:
        """``path`` as git names it at the root of the repository (``models/net.yaml``)."""
        rel = os.path.relpath(os.path.realpath(path), self.root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise SpecError(
                f"{path}: outside the repository at {self.root}, so not at {self.rev}",
                hint="--git reads a config and its imports from one repository",
            )
        return rel.replace(os.sep, "/")

    def read(self, path: str, location: str | None = None) -> str | None:
        """The text of ``path`` at the revision; None where it has no such file."""
        name = self.in_repository(path)
        kind = self._git("cat-file", "-t", f"{self.commit}:{name}")
        if kind.returncode != 0:
            return None
        if kind.stdout.strip() != b"blob":
            raise SpecError(
                f"{path}: a folder at {self.rev}, not a YAML file",
                location=location,
            )
        size = self._git("cat-file", "-s", f"{self.commit}:{name}")
        if size.returncode == 0 and int(size.stdout.strip() or 0) > 4 * MAX_FILE_CHARS:
            # more bytes than the longest config's characters can take: refused unread
            raise SpecError(f"{path}: longer than {MAX_FILE_CHARS >> 20} MiB at {self.rev}")
        shown = self._git("show", f"{self.commit}:{name}")
        if shown.returncode != 0:
            problem = shown.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SpecError(
                f"{path}: git cannot show it at {self.rev}"
                + (f" ({problem[-1]})" if problem else ""),
                location=location,
            )
        if len(shown.stdout) > 4 * MAX_FILE_CHARS:
            raise SpecError(f"{path}: longer than {MAX_FILE_CHARS >> 20} MiB at {self.rev}")
        try:
            text = shown.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError(f"{path}: not a text file at {self.rev} (it is not UTF-8)") from None
        if len(text) > MAX_FILE_CHARS:
            raise SpecError(f"{path}: longer than {MAX_FILE_CHARS >> 20} MiB at {self.rev}")
        return text

    def read_file(self, path: str) -> str:
        """The text of the config ``path`` at the revision; a SpecError where it has none."""
        text = self.read(path)
        if text is None:
            raise SpecError(
                f"{path}: not in {self.rev}",
                hint=f"git log --oneline -- {path} lists the commits that have it",
            )
        return text
