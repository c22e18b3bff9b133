"""`gas-web`: run the web app under gunicorn with gas.web.gunicorn_conf."""

from __future__ import annotations

import os
import shutil
import sys

from gas.core.config import load_settings, refuse
from gas.web.settings import WebSettings, startup_problem


def main(argv: list[str] | None = None) -> int:
    # Refuse a bad configuration here, with one line, before gunicorn forks workers
    # that would each fail the same way.
    settings = load_settings(WebSettings)
    problem = startup_problem(settings)
    if problem:
        refuse(problem)
    os.environ.setdefault("GAS_WEB_BIND", settings.web_bind)
    os.environ.setdefault("GAS_WEB_WORKERS", str(settings.web_workers))
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        print("gunicorn is not installed", file=sys.stderr)
        return 2
    args = [gunicorn, "-c", "python:gas.web.gunicorn_conf", *(argv or sys.argv[1:]), "gas.web.app:create_app()"]
    os.execv(gunicorn, args)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
