"""Live reload on a copy of the tree (the real files are never edited): the local stack
runs from the copy, a template edit is served and a worker module edit is processed
without a manual restart, moto (and so every queued message and the session) stays up,
and no message is lost while the worker restarts."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import requests
from devstack import processes_touched
from siteclient import User
from stack_support import Piped, copy_tree, job_id_of, run_env, sample, source_path
from support import ROOT, free_port, sent_emails

SUBJECT = 'subject = f"GAS: annotation of {name} is ready"'
EDITED_SUBJECT = 'subject = f"GAS (edited): annotation of {name} is ready"'


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}: update this test with the code"
    path.write_text(text.replace(old, new, 1))


def _page(url: str) -> str:
    try:
        return requests.get(url, timeout=10).text
    except (requests.ConnectionError, requests.Timeout):  # while web restarts (slowly on a busy machine)
        return ""


def test_edits_are_served_and_processed_without_a_restart_and_nothing_is_lost(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    port, moto_port = free_port(), free_port()
    env = {**run_env(port, moto_port), "PYTHONPATH": source_path(tree)}
    argv = [sys.executable, str(tree / "local" / "devstack.py"), "--log-dir", str(tmp_path / "logs")]
    stack = Piped(argv, env, tree)
    try:
        url = stack.wait_for("stack.ready", 900)["url"]
        user = User(url).sign_in()

        # A template: served by gunicorn's new workers, no request refused meanwhile.
        marker = f"edited-{uuid.uuid4().hex[:8]}"
        _edit(tree / "services/web/src/gas/web/templates/profile/home.html", "<h1", f'<p id="marker">{marker}</p><h1')
        stack.wait_for("reload", 30, process="web")
        deadline, statuses = time.monotonic() + 60, []
        while True:
            page = requests.get(url, timeout=30)
            statuses.append(page.status_code)
            if marker in page.text:
                break
            assert time.monotonic() < deadline, "the edited template was not served"
            time.sleep(0.2)
        assert set(statuses) == {200}, statuses
        assert user.get("/profile").ok  # same session: the secret key and moto's tables survived

        # Python the gunicorn master itself imported (the settings): web restarts whole.
        _edit(tree / "services/web/src/gas/web/settings.py", "Field(150 * KIB", "Field(151 * KIB")
        deadline = time.monotonic() + 120  # a whole restart, on a machine that may be busy
        while "151.0 KiB" not in _page(url):
            assert time.monotonic() < deadline, "the edited setting was not served"
            time.sleep(0.2)
        assert user.get("/profile").ok

        # A worker module: jobs submitted while the notifier restarts all get one email.
        notifier = tree / "services/notifier/src/gas/notifier/worker.py"
        _edit(notifier, SUBJECT, EDITED_SUBJECT)
        during = [job_id_of(user.submit(f"during{i}.vcf", sample("test.vcf"))) for i in range(4)]
        stack.wait_for("reload", 30, process="notifier")
        after = job_id_of(user.submit("after.vcf", sample("test.vcf")))
        for job_id in [*during, after]:
            assert user.wait_finished(job_id, timeout=120)["status"] == "COMPLETED"
        deadline = time.monotonic() + 90
        while True:
            emails = sent_emails(f"http://127.0.0.1:{moto_port}")
            mine = [m for m in emails if m["destinations"]["ToAddresses"] == [user.email]]
            if len(mine) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        per_job = {job_id: [m for m in mine if f"/annotations/{job_id}" in m["body"]] for job_id in [*during, after]}
        assert all(len(emails) == 1 for emails in per_job.values()), {j: len(e) for j, e in per_job.items()}
        assert per_job[after][0]["subject"] == "GAS (edited): annotation of after.vcf is ready"
        assert stack.interrupt() == 0
    finally:
        stack.kill()
    assert stack.not_json == [], stack.not_json[:10]
    restarted = [e for e in stack.events if e.get("service") == "notifier" and e.get("event") == "worker.started"]
    assert len(restarted) == 2, "the notifier started twice: once, and once more after the edit"


def test_an_edit_restarts_the_processes_that_run_it():
    services = ROOT / "services"
    template = services / "web/src/gas/web/templates/base.html"
    assert processes_touched({template}) == {"web": [template]}
    assert sorted(processes_touched({services / "archiver/src/gas/archiver/cold.py"})) == [
        "archiver-archive",
        "archiver-restore",
        "archiver-thaw",
    ]
    # web, every worker and the sweeper
    assert len(processes_touched({ROOT / "libs/core/src/gas/core/jobs.py"})) == 7
    swap = services / "web/src/gas/web/templates/profile/.home.html.swp"
    assert processes_touched({swap, ROOT / "docs/web.md"}) == {}
