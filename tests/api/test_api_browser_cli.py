"""The pipeline path end to end: a token created on the profile page in Chromium drives
the `gas` CLI through submit → wait → download, and the file equals what the job page's
Download link serves."""

from __future__ import annotations

import json

import pytest
from api_stack_support import sample_path
from support import sign_in_locally

pytestmark = pytest.mark.browser


def test_a_token_from_the_browser_drives_the_cli_and_the_files_agree(api_stack, browser, gas, tmp_path):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in_locally(page, api_stack.url, "Dorothy Hodgkin", "dorothy@example.org")
    page.goto(f"{api_stack.url}/profile")
    page.get_by_label("Token name").fill("laptop pipeline")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("gas_pat_")
    page.screenshot(path=str(tmp_path / "token.png"))
    page.reload()  # shown once: gone on the next view, listed by its prefix
    assert token not in page.content() and token[:14] in page.content()

    gas.login(token)
    done = gas.run("submit", str(sample_path()), "--name", "chromium token", "--wait", "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    downloaded = tmp_path / "out" / "free_1.annot.vcf"
    assert done.stdout.strip() == str(downloaded)
    (job,) = json.loads(gas.run("jobs", "--json").stdout)
    assert job["name"] == "chromium token" and job["status"] == "COMPLETED"
    job_id = job["job_id"]

    page.goto(f"{api_stack.url}/annotations/{job_id}")
    assert "COMPLETED" in page.content()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").first.click()
    served = tmp_path / "from-the-page.vcf"
    download.value.save_as(served)
    assert downloaded.read_bytes() == served.read_bytes()
    text = downloaded.read_text()
    assert text.startswith("##fileformat=VCF") and sum(1 for line in text.splitlines() if line[0] != "#") == 1141
    context.close()
