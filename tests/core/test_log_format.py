"""Which renderer a GAS process's logs get (gas.core.observability.log_format), seen in a
real process's output: readable lines for the local stack on a terminal, JSON lines on a
pipe (containers, files, tests), GAS_LOG_FORMAT deciding when set, a bad value refused
with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import ROOT, Terminal

SCRIPT = """
import logging
from gas.core.observability import configure_logging
log = configure_logging("annotator")
log.info("worker.started", queue="annotate")
logging.getLogger("kopf").warning("a library's own record")
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GAS_ENV", "GAS_LOG_FORMAT")}
    return {**env, **extra}


def _on_a_terminal(env: dict[str, str]) -> str:
    terminal = Terminal([sys.executable, "-c", SCRIPT], env, ROOT)
    while terminal.read(5):
        pass
    assert terminal.wait(10) == 0, terminal.text()
    return terminal.text()


def _on_a_pipe(env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_the_local_stack_on_a_terminal_reads_as_lines_with_the_process_name():
    lines = _on_a_terminal(_env(GAS_ENV="local")).splitlines()
    assert lines[0].startswith("annotator        | ") and "[info" in lines[0], lines
    assert "worker.started" in lines[0] and "queue=annotate" in lines[0], lines
    assert lines[1].startswith("kopf             | ") and "[warning" in lines[1], lines
    assert not any(line.lstrip().startswith("{") for line in lines)


@pytest.mark.parametrize(
    ("where", "env"),
    [
        ("a pipe, local", _env(GAS_ENV="local")),
        ("a pipe, production", _env()),
        ("a pipe, asked for json", _env(GAS_ENV="local", GAS_LOG_FORMAT="json")),
    ],
)
def test_a_pipe_gets_json_lines(where, env):
    events = [json.loads(line) for line in _on_a_pipe(env)]
    expected = [("worker.started", "info"), ("a library's own record", "warning")]
    assert [(e["event"], e["level"]) for e in events] == expected, where
    assert events[0]["service"] == "annotator" and events[1]["logger"] == "kopf"


def test_a_terminal_outside_the_local_stack_gets_json_and_the_variable_decides():
    production = _on_a_terminal(_env(GAS_ENV="production")).splitlines()
    assert json.loads(production[0])["event"] == "worker.started"
    asked = _on_a_pipe(_env(GAS_LOG_FORMAT="console", NO_COLOR="1"))
    assert asked[0].startswith("annotator        | ") and "worker.started" in asked[0]
    assert "\x1b[" not in "".join(asked)  # NO_COLOR


def test_a_bad_log_format_is_refused_with_one_line():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=_env(GAS_LOG_FORMAT="yaml"), capture_output=True, text=True
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "configuration error: GAS_LOG_FORMAT must be console, json or auto, not 'yaml'"
