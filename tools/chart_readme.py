#!/usr/bin/env python3
"""Generate charts/gas/README.md from the chart's values.yaml comments (helm-docs style).

Every value documented with a `# -- text` comment (continued on the following `#` lines)
becomes a row of the values table: key path, type, default (from values.yaml itself) and
the text. The page around the table is charts/gas/README.tmpl.md, whose `{{ name }}`,
`{{ version }}`, `{{ appVersion }}`, `{{ kubeVersion }}`, `{{ description }}` and
`{{ valuesTable }}` are filled in from Chart.yaml and values.yaml.

    python tools/chart_readme.py            # write charts/gas/README.md
    python tools/chart_readme.py --check    # exit 1 if README.md is not current (CI)

Written instead of running helm-docs itself: helm-docs would be one more Go build on a cold
CI machine, and this is the whole of what the chart uses of it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "gas"
KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-/]*):(?:\s|$)")
DOC_START = re.compile(r"^\s*# -- ?(?P<text>.*)$")
COMMENT = re.compile(r"^\s*#(?: ?)(?P<text>.*)$")


def documented_values(values_text: str) -> list[tuple[str, str]]:
    """(dotted key path, description) of every `# --` comment, in file order."""
    rows: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    doc: list[str] | None = None
    for line in values_text.splitlines():
        if m := DOC_START.match(line):
            doc = [m.group("text").strip()]
            continue
        if doc is not None and (m := COMMENT.match(line)):
            doc.append(m.group("text").strip())
            continue
        if COMMENT.match(line) or not line.strip():
            doc = None if not line.strip() else doc
            continue
        if m := KEY.match(line):
            indent = len(m.group("indent"))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group("key")))
            if doc is not None:
                rows.append((".".join(k for _, k in stack), " ".join(t for t in doc if t)))
        doc = None
    return rows


def lookup(values: Any, path: str) -> Any:
    node = values
    for part in path.split("."):
        node = node[part]
    return node


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def values_table(values_text: str) -> str:
    values = yaml.safe_load(values_text)
    lines = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for path, text in documented_values(values_text):
        value = lookup(values, path)
        default = json.dumps(value, separators=(",", ":"))
        lines.append(f"| `{cell(path)}` | {type_of(value)} | `{cell(default)}` | {cell(text)} |")
    return "\n".join(lines)


def render(chart: Path = CHART) -> str:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    page = (chart / "README.tmpl.md").read_text()
    fills = {
        "name": meta["name"],
        "version": meta["version"],
        "appVersion": meta.get("appVersion", ""),
        "kubeVersion": meta.get("kubeVersion", ""),
        "description": " ".join(meta.get("description", "").split()),
        "valuesTable": values_table((chart / "values.yaml").read_text()),
    }
    return re.sub(r"\{\{ (\w+) \}\}", lambda m: str(fills[m.group(1)]), page)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is not current")
    parser.add_argument("--chart", type=Path, default=CHART)
    args = parser.parse_args(argv)
    wanted = render(args.chart)
    readme = args.chart / "README.md"
    if args.check:
        current = readme.read_text() if readme.exists() else ""
        if current != wanted:
            diff = difflib.unified_diff(
                current.splitlines(), wanted.splitlines(), "README.md", "generated", lineterm=""
            )
            print("\n".join(list(diff)[:40]), file=sys.stderr)
            print("charts/gas/README.md is not current: run python tools/chart_readme.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
