"""charts/gas/README.md is generated from the values' `# --` comments (tools/chart_readme.py,
helm-docs style) and must be current; the generator lists every documented value."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml
from chartlib import CHART, ROOT

GENERATOR = ROOT / "tools" / "chart_readme.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True)


def test_readme_is_current():
    proc = run("--check")
    assert proc.returncode == 0, proc.stderr


def test_readme_lists_every_documented_value_with_its_default():
    sys.path.insert(0, str(GENERATOR.parent))
    import chart_readme

    values_text = (CHART / "values.yaml").read_text()
    rows = chart_readme.documented_values(values_text)
    assert len(rows) == values_text.count("# --") > 200
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load(values_text)
    for path, _ in rows:
        assert f"| `{path}` |" in readme, path
    assert "| `web.opsPort` | int | `9100` | Ops port (GAS_WEB_OPS_BIND=0.0.0.0:<port>)" in readme
    assert values["web"]["opsPort"] == 9100
    assert "| `workers.annotator.shutdownGraceSeconds` | int | `45` |" in readme


def test_check_fails_when_a_comment_changes(tmp_path):
    chart = tmp_path / "gas"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("# -- Ops port", "# -- The ops port", 1))
    proc = run("--check", "--chart", str(chart))
    assert proc.returncode == 1 and "README.md is not current" in proc.stderr
    assert "The ops port" in proc.stderr  # the diff shows what changed
    assert run("--chart", str(chart)).returncode == 0 and run("--check", "--chart", str(chart)).returncode == 0
