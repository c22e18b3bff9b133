"""skaffold.yaml against skaffold's own JSON schema for its apiVersion (from skaffold's Go
module source: tools/install-skaffold-schema.sh), and the check can fail."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from chartlib import ROOT


@pytest.fixture(scope="module")
def schema() -> dict:
    proc = subprocess.run([str(ROOT / "tools" / "install-skaffold-schema.sh")], capture_output=True, text=True)
    if proc.returncode != 0:  # `make tools` fetched it; a failed fetch fails the check
        pytest.fail(f"tools/install-skaffold-schema.sh failed:\n{proc.stderr}")
    return json.loads(Path(proc.stdout.strip()).read_text())


def problems(schema: dict, config: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(config)]


def skaffold_config() -> dict:
    (config,) = [d for d in yaml.safe_load_all((ROOT / "skaffold.yaml").read_text()) if d]
    return config


def test_skaffold_yaml_matches_skaffolds_schema(schema):
    assert problems(schema, skaffold_config()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["build"]["artifacts"][0]["docker"].update(dockerFile="services/Dockerfile"),  # wrong case
        lambda c: c["deploy"]["helm"]["releases"][0].update(chartPth="charts/gas"),  # typo
        lambda c: c["build"]["local"].update(concurrency="one"),  # wrong type
        lambda c: c["profiles"][0].update(activation="kind"),  # not a list
    ],
)
def test_the_schema_check_can_fail(schema, breakage):
    config = copy.deepcopy(skaffold_config())
    breakage(config)
    assert problems(schema, config), "the broken skaffold.yaml passed"
