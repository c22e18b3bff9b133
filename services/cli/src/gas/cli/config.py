"""Where `gas` keeps the site and the token: `<config dir>/config.json`, mode 0600, in a
directory of mode 0700. The config dir is click's per-user application directory
(`$XDG_CONFIG_HOME/gas`, usually `~/.config/gas`). `GAS_API_URL` and `GAS_API_TOKEN`
override the file (CI jobs pass secrets as variables)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import click

URL_VARIABLE, TOKEN_VARIABLE = "GAS_API_URL", "GAS_API_TOKEN"


def config_path() -> Path:
    return Path(click.get_app_dir("gas")) / "config.json"


@dataclass(frozen=True)
class Config:
    url: str | None
    token: str | None


def load() -> Config:
    stored: dict[str, str] = {}
    path = config_path()
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise click.UsageError(f"cannot read {path}: {exc}") from None
    return Config(
        url=os.environ.get(URL_VARIABLE) or stored.get("url"),
        token=os.environ.get(TOKEN_VARIABLE) or stored.get("token"),
    )


def save(url: str, token: str) -> Path:
    """Write the config readable by its owner only (created 0600: never readable by
    others, not even for a moment), replacing any earlier one atomically."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "token": token}, out)
        out.write("\n")
    os.chmod(temporary, 0o600)  # an existing file keeps its mode through O_CREAT
    os.replace(temporary, path)
    return path


def forget() -> bool:
    path = config_path()
    if path.exists():
        path.unlink()
        return True
    return False
