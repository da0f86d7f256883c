"""Everything the documentation prints is generated, and every link in it leads somewhere.

Each ``<!-- begin: X -->`` block of README.md, docs/*.md and benchmarks/README.md must equal X's
output; ``pytest tests/contract/test_readme.py --regen-golden`` rewrites the blocks.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
BLOCK = re.compile(r"(<!-- begin: (.+?) -->\n)(.*?)(<!-- end -->)", re.S)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)
README_MAX_LINES = 220


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
    if "--format mermaid" in what:  # a diagram GitHub draws
        return f"```mermaid\n{out}```\n"
    return f"```text\n$ {what}\n{out}```\n"


def prose(text: str) -> str:
    """The text outside code: fenced blocks and inline code spans removed."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = 0
        while (slug if n == 0 else f"{slug}-{n}") in found:
            n += 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: — not ours to check
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_blocks_are_generated(page, request):
    text = page.read_text()
    blocks = BLOCK.findall(text)
    if page == README:
        assert len(blocks) >= 4
    new = BLOCK.sub(lambda m: m.group(1) + produce(m.group(2)) + m.group(4), text)
    if request.config.getoption("--regen-golden"):
        page.write_text(new)
        return
    assert new == text, (
        f"{page.name} blocks are stale: run pytest tests/contract/test_readme.py --regen-golden"
    )


def test_the_docs_hold_the_generated_reference():
    blocks = {
        page.relative_to(ROOT).as_posix(): [
            what for _, what, _, _ in BLOCK.findall(page.read_text())
        ]
        for page in PAGES
    }
    assert "convcalc layers --format markdown" in blocks["docs/layers.md"]
    assert "examples" in blocks["docs/layers.md"]
    assert "convcalc zoo" in blocks["docs/zoo.md"]
    assert sum(len(b) for b in blocks.values()) >= 10


def test_readme_first_screen_has_the_two_commands():
    head = README.read_text().split("<!-- begin:")[0]
    assert "pip install . && convcalc shape examples/lenet.yaml" in head
    assert "pip install -e '.[test]' && pytest" in head


def test_readme_stays_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines: move details to docs/"
    )


def test_readme_links_every_docs_page():
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in LINK.findall(prose(README.read_text()))
    }
    for page in PAGES[1:]:
        assert page.resolve() in linked, page.relative_to(ROOT)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_heading(page):
    assert broken_links(page) == []


def test_the_link_check_finds_broken_links(tmp_path):
    (tmp_path / "other.md").write_text("# Running the network\n\n## Pasting print(model)\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n\n"
        "[fine](other.md#pasting-printmodel) [fine too](other.md#running-the-network) [here](#top)\n"
        "[gone](missing.md) [no heading](other.md#speed) [not here](#bottom)\n"
        "`[code](missing-too.md)` [web](https://example.org/x.md)\n"
        "```\n[fenced](missing-also.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#speed: no heading #speed in other.md",
        "#bottom: no heading #bottom in page.md",
    ]
