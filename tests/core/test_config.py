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
