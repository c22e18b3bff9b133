"""The pipeline path end to end: a token created on the profile page in Chromium drives
the `gas` CLI through submit → wait → download, and the file equals what the job page's
Download link serves."""

from __future__ import annotations

import json

import pytest
from api_stack_support import sample_path
from playwright.sync_api import Error as PlaywrightError
from support import ROOT, signed_in_page

pytestmark = pytest.mark.browser


def test_a_token_from_the_browser_drives_the_cli_and_the_files_agree(api_stack, browser, gas, tmp_path):
    context, page = signed_in_page(
        browser, api_stack.url, "Dorothy Hodgkin", "dorothy@example.org", accept_downloads=True
    )
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


def test_the_job_page_shows_a_running_jobs_progress_growing_without_a_reload(api_stack, browser, gas, tmp_path):
    """Chromium on the page of a running job: job.js's poll moves the progress bar and its
    line (records, percent read, ETA) while the page stays loaded; at the end it reloads
    into COMPLETED with no progress left."""
    import gzip
    import time

    context, page = signed_in_page(
        browser, api_stack.url, "Rosalind Franklin", f"rosalind-{time.time_ns()}@example.org"
    )
    page.goto(f"{api_stack.url}/subscribe")
    page.locator("#upgrade").click()  # a file that keeps the engine busy for seconds
    page.goto(f"{api_stack.url}/profile")
    page.get_by_label("Token name").fill("progress")
    page.get_by_role("button", name="Create token").click()
    gas.login(page.locator("#new-token").inner_text().strip())
    big = tmp_path / "big.vcf.gz"
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    with gzip.open(big, "wt", compresslevel=1) as out:
        # Long enough for several of job.js's polls (5 s apart): 1.2M records ran 31% -> done
        # between two polls on a clean-clone run.
        for start in range(0, 3_600_000, 400_000):
            lines = (f"1\t{100000 + 50 * i}\t.\tA\tG\t50\tPASS\t.\n" for i in range(start, start + 400_000))
            out.write((header if start == 0 else "") + "".join(lines))
    job_id = gas.run("submit", str(big)).stdout.strip()
    page.goto(f"{api_stack.url}/annotations/{job_id}")
    page.wait_for_selector('#job[data-status="RUNNING"]')  # job.js reloads on PENDING -> RUNNING
    page.evaluate("window.notReloaded = true")  # gone after a reload: the values below come from job.js
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            state = page.evaluate(
                """() => {
                    const bar = document.querySelector('#job-progress progress');
                    const text = document.querySelector('#job-progress .progress-text');
                    return window.notReloaded && bar ? [bar.value.toString(), text.textContent] : null;
                }"""
            )
        except PlaywrightError:  # reloading as we looked
            state = None
        if state is None and seen:
            break  # reloaded: the job has finished
        if state and (not seen or tuple(state) != seen[-1]):
            seen.append(tuple(state))
            if len(seen) == 2:
                page.screenshot(path=str(ROOT / "docs" / "images" / "job-progress.png"))
        time.sleep(0.2)
    assert len(seen) >= 2, seen
    values = [float(v) for v, _ in seen]
    assert values == sorted(values) and values[-1] > values[0], seen
    assert all("records written" in text and "% of the file read" in text for _, text in seen), seen
    page.wait_for_selector('[data-status="COMPLETED"]')
    assert page.locator("#job-progress").count() == 0
    context.close()
