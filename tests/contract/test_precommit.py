"""The pre-commit hook, tried for real: a throwaway git repository with a good and a broken
config (and the pre-commit config itself, which is YAML too), checked through
``pre-commit try-repo`` against this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_hook_is_declared_as_the_readme_says() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "convcalc-check"
    assert hook["entry"] == "convcalc check --skip-foreign"
    assert hook["language"] == "python"
    assert hook["files"] == r"\.ya?ml$"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pre_commit_try_repo_passes_the_good_config_and_fails_the_broken_one(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pre_commit")
    repo = tmp_path / "project"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "good.yaml").write_text((ROOT / "examples" / "lenet.yaml").read_text())
    (repo / "models" / "broken.yaml").write_text((ROOT / "examples" / "lenet-64.yaml").read_text())
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "configs")
    env = os.environ | {"PRE_COMMIT_HOME": str(tmp_path / "cache"), "NO_COLOR": "1"}

    def hook(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "convcalc-check",
             "--color", "never", "--files", *files],
            cwd=repo, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    good = hook("models/good.yaml", ".pre-commit-config.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "convcalc check" in good.stdout and "Passed" in good.stdout

    broken = hook("models/good.yaml", "models/broken.yaml")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    assert (
        "✗ models/broken.yaml:12  layer 7 'fc1' (Linear): expects 400 input features, receives 2704"
    ) in broken.stdout
    assert "✓ models/good.yaml  61.71 K params · 416.52 K MACs" in broken.stdout
