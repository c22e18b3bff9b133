"""The lists that name GAS's processes agree with gas.core.components (the one table):
the IAM policies, the provisioned queues, the local stack, the chart's values, skaffold's
artifacts, the Dockerfile and the uv workspace. Editing one alone fails here."""

from __future__ import annotations

import re
import tomllib

import yaml
from support import ROOT

from gas.core.components import IDENTITIES, PACKAGES, PROCESSES, WORKERS
from gas.core.iam import STATEMENTS
from gas.core.names import QUEUE_TOPICS


def test_iam_has_a_policy_for_every_identity_and_no_other():
    assert set(STATEMENTS) == set(IDENTITIES)


def test_every_provisioned_queue_has_exactly_one_consumer():
    consumed = [p.queue for p in WORKERS]
    assert sorted(consumed) == sorted(QUEUE_TOPICS)


def test_the_local_stack_runs_every_worker_with_its_command():
    import devstack

    assert {name: list(cmd) for name, cmd in devstack.WORKERS.items()} == {p.name: list(p.command) for p in WORKERS}


def test_the_chart_has_a_worker_entry_per_worker():
    values = yaml.safe_load((ROOT / "charts/gas/values.yaml").read_text())
    assert set(values["workers"]) == {p.name for p in WORKERS}
    for process in WORKERS:
        entry = values["workers"][process.name]
        assert entry["image"]["repository"] == f"gas-{process.package}", process.name
        if entry.get("command"):
            assert entry["command"] == list(process.command), process.name


def test_the_chart_runs_every_scheduled_process_as_a_cronjob():
    values = yaml.safe_load((ROOT / "charts/gas/values.yaml").read_text())
    template = (ROOT / "charts/gas/templates/sweeper-cronjob.yaml").read_text()
    for process in PROCESSES:
        if process.schedule:
            assert values[process.name]["enabled"] is True, process.name
            assert "kind: CronJob" in template and f"command: {list(process.command)}".replace("'", '"') in template


def test_the_chart_runs_every_hook_process_as_a_hook_job():
    for process in PROCESSES:
        if process.hook:
            template = (ROOT / f"charts/gas/templates/{process.name}.yaml").read_text()
            assert '"helm.sh/hook" $hook' in template and "kind: Job" in template, process.name
            assert f"command: {list(process.command)[:1]}".replace("'", '"')[:-1] in template, process.name


def test_skaffold_builds_one_image_per_package():
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    artifacts = {a["image"]: a["docker"]["buildArgs"]["SERVICE"] for a in config["build"]["artifacts"]}
    assert artifacts == {f"gas-{package}": package for package in PACKAGES}


def test_the_dockerfile_builds_every_package_by_its_service_argument():
    dockerfile = (ROOT / "services/Dockerfile").read_text()
    assert re.search(r'--package "gas-\$\{SERVICE\}"', dockerfile)
    for package in PACKAGES:
        assert (ROOT / "services" / package / "pyproject.toml").is_file(), package


def test_the_workspace_holds_core_and_every_package():
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = set(root["tool"]["uv"]["workspace"]["members"])
    services = {m for m in members if m.startswith("services/")}
    assert {f"services/{p}" for p in PACKAGES} <= services
    assert "libs/core" in members
    for package in PACKAGES:
        assert f"gas-{package}" in root["project"]["dependencies"]
        member = tomllib.loads((ROOT / "services" / package / "pyproject.toml").read_text())
        scripts = member["project"].get("scripts", {})
        for process in PROCESSES:
            if process.package == package and process.command[0] != "gas-sweep":
                assert process.command[0] in scripts, (package, process.command[0])
