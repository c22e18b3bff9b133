"""The chart's `helm test` probe (charts/gas/files/helm-test-probe.py, tests.probe; decision 108)
run as a process against this directory's stack over HTTP, as the test pod runs it against
web's Service: a job round trip through the queue with a personal access token. The one-node
cluster test (tests/cluster) runs it through `helm test` itself."""

from __future__ import annotations

import os
import subprocess
import sys

from api_stack_support import make_token, site_user
from support import ROOT

PROBE = ROOT / "charts" / "gas" / "files" / "helm-test-probe.py"


def _probe(url: str, token: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "AWS_"))}
    env |= {"GAS_PROBE_URL": url, "GAS_PROBE_TOKEN": token, "GAS_PROBE_TIMEOUT_SECONDS": "120"}
    return subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=240)


def test_the_probe_round_trips_a_job_and_deletes_it(api_stack):
    user = site_user(api_stack.url)
    done = _probe(api_stack.url, make_token(user, name="helm test probe"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COMPLETED and annotated" in done.stdout and "deleted (204)" in done.stdout, done.stdout
    assert user.job_ids() == []  # nothing left in the probe user's history


def test_the_probe_fails_loudly_on_a_refused_token(api_stack):
    done = _probe(api_stack.url, "gas_pat_" + "x" * 43)
    assert done.returncode != 0 and "GET /api/v1/me -> 401" in done.stdout + done.stderr
