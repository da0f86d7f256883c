"""Everything the README prints is generated: each ``<!-- begin: X -->`` block must equal X's output.

``pytest tests/test_readme.py --regen-golden`` rewrites the blocks.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- begin: (.+?) -->\n)(.*?)(<!-- end -->)", re.S)


def produce(what: str) -> str:
    if what == "examples":
        rows = []
        for path in sorted((ROOT / "examples").iterdir()):
            if path.suffix in (".yaml", ".py"):
                first = path.read_text().splitlines()[0]
                text = (
                    first.lstrip("# ").strip('"').strip()
                    if path.suffix == ".yaml"
                    else first.strip('"').rstrip(".")
                )
                rows.append(f"| `examples/{path.name}` | {text} |")
        return "\n".join(rows) + "\n"
    args = shlex.split(what)
    assert args[0] == "convcalc"
    out = subprocess.run(
        [sys.executable, "-m", "convcalc", *args[1:]], cwd=ROOT, capture_output=True, text=True
    ).stdout
    if "--format markdown" in what:
        return out
    return f"```text\n$ {what}\n{out}```\n"


def test_readme_blocks_are_generated(request):
    text = README.read_text()
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 4
    new = BLOCK.sub(lambda m: m.group(1) + produce(m.group(2)) + m.group(4), text)
    if request.config.getoption("--regen-golden"):
        README.write_text(new)
        return
    assert new == text, "README blocks are stale: run pytest tests/test_readme.py --regen-golden"


def test_readme_first_screen_has_the_two_commands():
    head = README.read_text().split("<!-- begin:")[0]
    assert "pip install . && convcalc shape examples/lenet.yaml" in head
    assert "pip install -e '.[test]' && pytest" in head
