import subprocess

import pytest
from support import BIN


@pytest.mark.parametrize(
    ("var", "value", "named"),
    [
        ("GAS_PREFIX", "Not_Valid", "GAS_PREFIX"),
        ("AWS_ENDPOINT_URL", "localhost:5000", "AWS_ENDPOINT_URL"),
        ("GAS_MAX_RECEIVE_COUNT", "many", "GAS_MAX_RECEIVE_COUNT"),
        ("GAS_ENV", "staging", "GAS_ENV"),
    ],
)
def test_bad_setting_stops_the_process_with_one_line_naming_it(aws_env, var, value, named):
    env = {**aws_env, var: value, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(BIN / "gas-provision")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"configuration error: {named} "), proc.stderr


def test_worker_settings_missing_required_is_named():
    from gas.core.config import CoreSettings, load_settings

    class Needs(CoreSettings):
        secret_key: str

    with pytest.raises(SystemExit) as exc:
        load_settings(Needs)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "GAS_POD_DELETION_COST needs KUBERNETES_SERVICE_HOST/PORT or GAS_KUBERNETES_API_URL"),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, "needs GAS_POD_NAME"),
        (
            {"GAS_KUBERNETES_API_URL": "https://10.96.0.1", "GAS_POD_NAME": "p", "GAS_POD_NAMESPACE": "gas"},
            "needs the pod's service account token and ca.crt in /nonexistent",
        ),
    ],
)
def test_a_half_configured_deletion_cost_stops_the_worker_with_one_line(aws_env, provisioned, env, says):
    """The chart sets all of these together; a hand-made Deployment that misses one fails at
    start, with the missing piece named, instead of running without its scale-down hint."""
    env = {**aws_env, **env, "GAS_POD_DELETION_COST": "true", "GAS_SERVICE_ACCOUNT_DIR": "/nonexistent"}
    proc = subprocess.run([str(BIN / "gas-notifier")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: GAS_POD_DELETION_COST needs"), lines
    assert says in lines[0]
