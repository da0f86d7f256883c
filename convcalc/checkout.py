"""``convcalc check``'s outcomes as people and CI systems read them: text lines, JSON,
GitHub workflow commands and JUnit XML. Formatting only: what each config came to is
decided in check.py."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from .check import BUG, ERROR, FAILED, SKIPPED, Finding, Outcome, Summary, outcome_dict

MARK = {FAILED: "✗", ERROR: "✗", BUG: "✗", SKIPPED: "-"}


def _place(finding: Finding, target: str) -> str:
    """``models/lenet.yaml:12``: where the finding is (the target's own name when the
    finding is in it; the imported file's otherwise)."""
    file = finding.file if finding.file and finding.file != "<stdin>" else target
    return f"{file}:{finding.line}" if finding.line else file


def outcome_lines(outcome: Outcome, verbose: bool = False) -> list[str]:
    """``✓ models/resnet.yaml  25.56 M params · 4.09 G MACs``, or ``✗`` and where it fails
    with the first failure (each further one on a line of its own below)."""
    failures = outcome.failures
    if outcome.status == SKIPPED:
        reason = outcome.findings[0].message if outcome.findings else "skipped"
        return [f"- {outcome.target}  skipped: {reason}"]
    if not failures:
        updated = "  (expect: updated)" if outcome.updated else ""
        return [f"✓ {outcome.target}  {outcome.summary}{updated}"]
    first, *rest = failures
    lines = [f"✗ {_place(first, outcome.target)}  {first.message}"]
    lines += [f"    {_place(f, outcome.target)}  {f.message}" for f in rest]
    if verbose:
        lines += [f"    hint: {f.hint}" for f in failures if f.hint][:1]
    return lines


def summary_line(summary: Summary) -> str:
    return summary.text()


# ------------------------------------------------------------------ JSON


def to_json(outcomes: Sequence[Outcome], summary: Summary) -> str:
    """One object: every config's report (as ``shape --format json`` gives it) and findings,
    and the summary."""
    data = {
        "files": [outcome_dict(o) for o in outcomes],
        "summary": {
            **summary.counts,
            "exit_code": summary.exit_code,
            "seconds": round(summary.seconds, 4),
        },
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ GitHub

TITLES = {
    "model": "the model is wrong",
    "read": "cannot read the config",
    "budget": "over budget",
    "expect": "a pinned figure changed",
    "strict": "a likely mistake (--strict)",
    "note": "note",
    "bug": "internal error in convcalc",
}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(outcome: Outcome) -> list[str]:
    """GitHub Actions workflow commands (``::error file=…,line=…,col=…,title=…::message``):
    the pull request shows each on the line it is about; notes are warnings."""
    lines = []
    for finding in outcome.findings:
        if outcome.status == SKIPPED:
            continue
        level = "error" if finding.level == "error" else "warning"
        fields = [f"file={_escape_property(_file(finding, outcome.target))}"]
        if finding.line:
            fields.append(f"line={finding.line}")
            if finding.column:
                fields.append(f"col={finding.column}")
        fields.append(f"title={_escape_property('convcalc: ' + TITLES[finding.kind])}")
        message = finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
        lines.append(f"::{level} {','.join(fields)}::{_escape_data(message)}")
    return lines


def _file(finding: Finding, target: str) -> str:
    file = finding.file if finding.file and finding.file != "<stdin>" else target
    return os.path.relpath(file) if os.path.isabs(file) else file


# ------------------------------------------------------------------ JUnit


def to_junit(outcomes: Sequence[Outcome], summary: Summary) -> str:
    """JUnit XML, as GitLab, Jenkins and test-report viewers read it: one testcase per
    config; a wrong model (or one over budget) is a failure, an unreadable config (or an
    internal error) an error, a foreign file skipped."""
    from xml.etree import ElementTree as ET

    counts = {
        "tests": str(len(outcomes)),
        "failures": str(sum(1 for o in outcomes if o.status == FAILED)),
        "errors": str(sum(1 for o in outcomes if o.status in (ERROR, BUG))),
        "skipped": str(sum(1 for o in outcomes if o.status == SKIPPED)),
        # each case's time as written, so that the suite's is their sum
        "time": f"{sum(round(o.seconds, 3) for o in outcomes):.3f}",
    }
    root = ET.Element("testsuites", {"name": "convcalc check", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "convcalc check", **counts})
    for outcome in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": outcome.target,
                "classname": "convcalc.check",
                "file": outcome.target,
                "time": f"{outcome.seconds:.3f}",
            },
        )
        failures = outcome.failures
        if outcome.status == SKIPPED:
            reason = outcome.findings[0].message if outcome.findings else "skipped"
            ET.SubElement(case, "skipped", {"message": reason})
        elif failures:
            tag = "failure" if outcome.status == FAILED else "error"
            element = ET.SubElement(
                case, tag, {"message": failures[0].message, "type": failures[0].kind}
            )
            element.text = "\n".join(
                f"{_place(f, outcome.target)}: {f.message}"
                + (f"\n  hint: {f.hint}" if f.hint else "")
                for f in failures
            )
        elif outcome.summary:
            ET.SubElement(case, "system-out").text = outcome.summary
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["MARK", "github_lines", "outcome_lines", "summary_line", "to_json", "to_junit"]
