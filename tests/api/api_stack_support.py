"""Helpers of the API stack tests: the `gas` CLI as a user runs it, and tokens made on the
profile page over HTTP (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from siteclient import User
from support import BIN, SAMPLES

RATE_LIMIT = 40  # requests per token per minute on this directory's stack


@dataclass
class Gas:
    url: str
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "AWS_"))}
        return {**env, "XDG_CONFIG_HOME": str(self.home / ".config"), "PATH": f"{BIN}:{env['PATH']}", **extra}

    def run(self, *args: str, input: str | None = None, cwd: Path | None = None, timeout: float = 120):
        return subprocess.run(
            [str(BIN / "gas"), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=cwd or self.home,
            timeout=timeout,
        )

    def login(self, token: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        done = self.run("login", "--url", self.url, "--token-stdin", input=token + "\n")
        assert done.returncode == 0, done.stderr

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "gas"), *args], env=self.env(), cwd=self.home, text=True, **kwargs)


def site_user(base: str) -> User:
    return User(base).sign_in()


def make_token(user: User, scopes: tuple[str, ...] = ("read", "submit"), name: str = "tests") -> str:
    """A personal access token made on the profile page (HTTP, CSRF token and all)."""
    resp = user.http.post(
        user.base + "/profile/tokens",
        data={"csrf_token": user.csrf_token("/profile"), "name": name, "scopes": list(scopes), "days": "7"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return re.search(r'id="new-token">([^<]+)<', resp.text).group(1)


def sample_path(name: str = "free_1.vcf") -> Path:
    return Path(SAMPLES) / name


PYTHON = sys.executable
