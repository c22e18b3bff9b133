"""The lifecycle in Debian's Chromium (Playwright): the real form, the presigned POST
from the browser straight to S3, the job page following the job, the download."""

import pytest
from support import SAMPLES, browser_page, sign_in_locally

pytestmark = pytest.mark.browser


def test_sign_in_upload_follow_and_download_in_chromium(stack, browser, tmp_path):
    _, page = browser_page(browser, accept_downloads=True)
    page.goto(stack.url)
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Name").fill("Rosalind Franklin")
    page.get_by_label("Email").fill("rosalind@example.org")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{stack.url}/annotate")
    page.set_input_files("#file", str(SAMPLES / "free_1.vcf"))
    page.click("#upload-button")
    page.wait_for_url(f"{stack.url}/annotations/*")
    assert "free_1.vcf" in page.content()
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=60_000)  # the page follows the job
    with page.expect_download() as download:
        page.get_by_role("link", name="Download annotated VCF").click()
    path = tmp_path / "annotated.vcf"
    download.value.save_as(path)
    text = path.read_text()
    assert text.startswith("##fileformat=VCF") and "##INFO=<ID=GENE," in text
    assert sum(1 for line in text.splitlines() if not line.startswith("#")) == 1141
    page.screenshot(path=str(tmp_path / "job.png"))


def test_oversized_file_is_stopped_in_the_browser_with_a_message(stack, browser):
    page = browser.new_context().new_page()
    sign_in_locally(page, stack.url, "Big Uploader", "big@example.org")
    page.goto(f"{stack.url}/annotate")
    page.set_input_files("#file", str(SAMPLES / "premium_1.vcf"))
    page.click("#upload-button")
    error = page.locator("#upload-error")
    error.wait_for(state="visible")
    assert "premium_1.vcf" in error.inner_text() or "bytes" in error.inner_text().lower()
    assert page.url == f"{stack.url}/annotate"
