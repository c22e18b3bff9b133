"""The `gas` CLI where no GAS answers: its config file's permissions, and the documented
exit codes for usage errors, a missing login and an unreachable server (a closed local
port: the real network path)."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
from support import BIN, free_port


def gas(home, *args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "AWS_"))}
    return subprocess.run(
        [str(BIN / "gas"), *args],
        input=input,
        capture_output=True,
        text=True,
        env={**base, "XDG_CONFIG_HOME": str(home), **env},
        timeout=60,
    )


def test_help_documents_the_exit_codes(tmp_path):
    done = gas(tmp_path, "--help")
    assert done.returncode == 0
    for text in (
        "0 done",
        "1 a job failed",
        "2 usage",
        "3 auth",
        "4 not found",
        "5 server",
        "6 a job was CANCELLED",
        "130 interrupted",
    ):
        assert text in " ".join(done.stdout.split()), text


@pytest.mark.parametrize(
    "args",
    [
        ("submit",),
        ("submit", "/no/such/file.vcf"),
        ("jobs", "--limit", "0"),
        ("frobnicate",),
        ("status",),
        ("variants", "x", "--tsv", "--json"),
        ("variants", "x", "--known", "maybe"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args):
    assert gas(tmp_path, *args).returncode == 2


def test_without_a_token_read_commands_exit_3(tmp_path):
    done = gas(tmp_path, "jobs")
    assert done.returncode == 3 and "gas login" in done.stderr


def test_an_unreachable_server_exits_5(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done = gas(tmp_path, "jobs", GAS_API_URL=url, GAS_API_TOKEN="gas_pat_x")
    assert done.returncode == 5 and "cannot reach" in done.stderr
    login = gas(tmp_path, "login", "--url", url, "--token-stdin", input="gas_pat_x\n")
    assert login.returncode == 5
    assert not (tmp_path / "gas" / "config.json").exists()  # nothing stored that did not work


def test_login_refuses_a_url_that_is_not_http(tmp_path):
    assert gas(tmp_path, "login", "--url", "ftp://example.org", "--token-stdin", input="t\n").returncode == 2


def test_the_stored_token_is_readable_by_its_owner_only(tmp_path):
    from gas.cli import config

    os.environ["XDG_CONFIG_HOME"] = str(tmp_path)
    try:
        path = config.config_path()
        path.parent.mkdir(parents=True)
        path.write_text("{}")
        os.chmod(path, 0o644)  # an older, too open file is replaced, not reused
        config.save("http://127.0.0.1:1", "gas_pat_secret")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert json.loads(path.read_text()) == {"url": "http://127.0.0.1:1", "token": "gas_pat_secret"}
        assert config.load().token == "gas_pat_secret"
        os.environ["GAS_API_TOKEN"] = "from-the-environment"
        assert config.load().token == "from-the-environment"
    finally:
        os.environ.pop("XDG_CONFIG_HOME")
        os.environ.pop("GAS_API_TOKEN", None)
    done = gas(tmp_path, "logout")
    assert done.returncode == 0 and not path.exists()
