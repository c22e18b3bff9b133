"""`make demo`: demo users whose job lists show every state a job can be in — completed,
failed with its reason, archived, restoring — seeded through the site, the queues and
the workers, and seen in Debian's Chromium (screenshots under the test's tmp_path)."""

from __future__ import annotations

import sys

import demo
import pytest
from stack_support import Piped, run_env
from support import ROOT, free_port, signed_in_page

pytestmark = pytest.mark.browser


def _job_list(browser, url: str, name: str, email: str, shot):
    _, page = signed_in_page(browser, url, name, email, viewport={"width": 1100, "height": 520})
    page.goto(f"{url}/annotations")
    page.screenshot(path=str(shot), full_page=True)
    rows = page.locator("#jobs tbody tr")
    seen = []
    for i in range(rows.count()):
        row = rows.nth(i)
        storage = row.locator("[data-storage]")
        seen.append(
            (
                row.locator("td").nth(1).inner_text(),
                row.locator("[data-status]").get_attribute("data-status"),
                storage.get_attribute("data-storage") if storage.count() else None,
            )
        )
    return page, sorted(seen)


def test_demo_shows_every_job_state_in_the_job_list(browser, tmp_path):
    port, moto_port = free_port(), free_port()
    argv = [sys.executable, str(ROOT / "local" / "devstack.py"), "--demo", "--no-reload", "--log-dir", str(tmp_path)]
    stack = Piped(argv, run_env(port, moto_port), ROOT)
    try:
        ready = stack.wait_for("stack.ready", 900)
        seeded = stack.wait_for("demo.ready", 300)
        assert "line 3" in seeded["failed_reason"], seeded

        page, researcher = _job_list(browser, ready["url"], *demo.PREMIUM, tmp_path / "demo-researcher.png")
        assert researcher == [
            ("broken.vcf", "FAILED", None),
            ("free_1.vcf", "COMPLETED", "RESTORING"),
            ("test.vcf", "COMPLETED", None),
        ], researcher
        page.get_by_text("broken.vcf").locator("xpath=ancestor::tr").get_by_role("link", name="Details").click()
        assert "line 3" in page.content()  # the failed job's page says why
        page.screenshot(path=str(tmp_path / "demo-failed-job.png"), full_page=True)

        _, free = _job_list(browser, ready["url"], *demo.FREE, tmp_path / "demo-free.png")
        assert free == [("test.vcf", "COMPLETED", "ARCHIVED")], free
        print(f"screenshots: {tmp_path}/demo-*.png")
        assert stack.interrupt() == 0
    finally:
        stack.kill()
    assert stack.not_json == [], stack.not_json[:10]
