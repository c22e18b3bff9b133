"""`make run` as a developer uses it. Under a pipe: JSON lines only, the banner as an
event, Ctrl-C stops every process it started and says what ran. Then again on the same
ports under a pseudo-terminal, warm: readable lines, at most 30 of them before the
banner, none of moto's access log, the banner's URL answering, the summary on Ctrl-C
counting the jobs done and failed from the stack's own table."""

from __future__ import annotations

import re
import subprocess

import requests
from siteclient import User, job_id_of
from stack_support import Piped, children, run_env, sample
from support import ROOT, Terminal, free_port

BROKEN_VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tabc\t.\tA\tG\t.\t.\t.\n"
# moto's access log (werkzeug): 127.0.0.1 - - [29/Nov/2026 12:00:00] "POST / HTTP/1.1" 200 -
ACCESS_LOG_LINE = re.compile(r'"(GET|POST|PUT|HEAD|DELETE|PATCH) \S+ HTTP/1\.[01]" \d{3}')


def _listening(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except requests.ConnectionError:
        return False


def _run_jobs(url: str) -> None:
    """One job that completes and one that fails, through the site."""
    user = User(url).sign_in()
    done = job_id_of(user.submit("test.vcf", sample("test.vcf")))
    failed = job_id_of(user.submit("broken.vcf", BROKEN_VCF))
    assert user.wait_finished(done)["status"] == "COMPLETED"
    assert user.wait_finished(failed)["status"] == "FAILED"


def test_make_run_under_a_pipe_then_on_a_terminal(tmp_path):
    port, moto_port = free_port(), free_port()
    env = run_env(port, moto_port, ARGS=f"--log-dir {tmp_path / 'logs'}")
    # Installing (uv sync, when the lock changed) speaks plain text; the stack after it JSON.
    subprocess.run(["make", "setup"], env=env, cwd=ROOT, check=True, capture_output=True)

    piped = Piped(["make", "run"], env, ROOT)
    try:
        ready = piped.wait_for("stack.ready", 900)
        assert ready["url"] == f"http://127.0.0.1:{port}" and ready["service"] == "devstack"
        assert requests.get(f"{ready['url']}/readyz", timeout=5).ok
        assert "Sign in" in requests.get(ready["url"], timeout=5).text
        _run_jobs(ready["url"])
        (devstack,) = children(piped.proc.pid)
        assert piped.interrupt(devstack) == 0
    finally:
        piped.kill()
    assert piped.not_json == [], piped.not_json[:10]
    stopped = piped.wait_for("stack.stopped", 5)
    assert (stopped["jobs_completed"], stopped["jobs_failed"]) == (1, 1), stopped
    services = {e["service"] for e in piped.events}
    assert {"devstack", "web", "annotator", "notifier", "archiver-archive"} <= services, services
    assert not _listening(port) and not _listening(moto_port)
    assert ACCESS_LOG_LINE.search((tmp_path / "logs" / "moto.log").read_text()), "moto's access log is in its file"

    terminal = Terminal(["make", "run"], env, ROOT)
    try:
        text = terminal.read_until("GAS is running: open", 300)
        before = text[: text.index("GAS is running: open")].splitlines()
        assert len(before) <= 30, "\n".join(before)
        url = re.search(r"GAS is running: open (http://\S+)", text).group(1)
        assert url == f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/readyz", timeout=5).ok
        _run_jobs(url)
        terminal.ctrl_c(90)  # make itself reports the interrupt (and exits non-zero)
    finally:
        terminal.kill()
    text = terminal.text()
    assert not ACCESS_LOG_LINE.search(text), [line for line in text.splitlines() if ACCESS_LOG_LINE.search(line)][:5]
    # Readable lines: a process-name prefix, a clock and a level, never a JSON object.
    lines = [line for line in text.splitlines() if "|" in line]
    assert any(re.match(r"web +\| \d\d:\d\d:\d\d \[info", line) for line in lines), lines[:20]
    assert any(re.match(r"annotator +\| .*worker\.started", line) for line in lines), lines[:20]
    assert not [line for line in text.splitlines() if line.lstrip().startswith("{")]
    assert re.search(r"GAS stopped after [\d.]+ min\. Jobs: 1 completed, 1 failed, 0 unfinished", text), text[-2000:]
    assert not _listening(port) and not _listening(moto_port)


def test_plain_make_lists_every_target_in_one_line_and_the_readme_names_them():
    listed = subprocess.run(["make"], cwd=ROOT, env=run_env(0, 0), capture_output=True, text=True, check=True).stdout
    described = dict(re.findall(r"^  make (\S+) +(\S.*)$", listed, re.M))
    declared = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M)
    assert sorted(described) == sorted(declared), (listed, declared)
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make run") < readme.index("make test") < readme.index("make demo")  # the first two first
    assert [t for t in described if t != "help" and f"make {t}" not in readme] == []
