"""The variant table as a researcher follows it, in Debian's Chromium on the local stack
(issue 26): sort by QUAL from its column heading, jump to page 2 by its number, open a
row's detail (every field, the genotypes of premium_2.vcf's three samples, link-outs for
GRCh37) and come back to the same page. Screenshots of both pages at 1280 and 390 px go
to docs/images/; at 390 px neither page scrolls sideways."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from stack_support import premium_job_in_browser
from support import DESKTOP, PHONE, browser_page

pytestmark = pytest.mark.browser
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def _qual(text: str) -> float:
    return float(text) if text.strip() else float("-inf")


def test_sort_page_and_open_a_variants_detail_in_chromium(stack, stack_aws, browser):
    context, page = browser_page(browser, viewport=DESKTOP)
    job = premium_job_in_browser(page, stack, stack_aws, "Nettie Stevens", "nettie@example.org")
    annotated = stack_aws("s3").get_object(Bucket=f"{stack.prefix}-results", Key=job["result_key"]["S"])
    lines = annotated["Body"].read().decode().splitlines()
    samples = next(line for line in lines if line.startswith("#CHROM")).split("\t")[9:]
    records = [line for line in lines if line and not line.startswith("#")]
    assert len(samples) == 3

    # Sort by QUAL from its heading: highest first, across pages.
    page.click("#view-variants")
    page.wait_for_selector("#variants tbody tr[data-record]")
    page.click("#sort-qual")
    page.wait_for_url(re.compile(r".*sort=-qual"))
    first_page = [_qual(t) for t in page.locator("#variants tbody tr td:nth-child(10)").all_inner_texts()]
    assert len(first_page) == 50 and first_page == sorted(first_page, reverse=True)
    assert page.locator("#variants th[aria-sort]").inner_text().startswith("QUAL")
    page.click("#page-2")
    page.wait_for_url(re.compile(r".*offset=50"))
    assert "sort=-qual" in page.url and page.locator("#page-current").inner_text() == "2"
    second_page = [_qual(t) for t in page.locator("#variants tbody tr td:nth-child(10)").all_inner_texts()]
    assert second_page == sorted(second_page, reverse=True) and second_page[0] <= first_page[-1]
    table_url = page.url
    page.screenshot(path=str(IMAGES / "variants-sorted-1280.png"), full_page=True)

    # A row opens its detail: every field, the genotypes as in the file, the link-outs.
    row = page.locator("#variants tbody tr").first
    record = int(row.get_attribute("data-record"))
    row.locator("a.gas-detail").click()
    page.wait_for_url(re.compile(rf".*/variants/{record}\?back=.*"))
    assert page.locator("#variant-title").get_attribute("data-record") == str(record)
    fields = records[record].split("\t")
    assert page.locator("#vcf-fields tr").first.inner_text().split("\t") == ["CHROM", fields[0]]
    for k, name in enumerate(samples):
        cells = page.locator(f'#genotypes tr[data-sample="{name}"] td').all_inner_texts()
        assert cells == fields[9 + k].split(":"), name
    ucsc = page.locator('#links-position a[data-site="UCSC"]')
    assert ucsc.get_attribute("target") == "_blank" and ucsc.get_attribute("rel") == "noopener noreferrer"
    assert parse_qs(urlsplit(ucsc.get_attribute("href")).query)["db"] == ["hg19"]
    page.screenshot(path=str(IMAGES / "variant-detail-1280.png"), full_page=True)
    detail_url = page.url
    page.click("#back-to-table")
    page.wait_for_url(table_url)
    assert int(page.locator("#variants tbody tr").first.get_attribute("data-record")) == record

    # At 390 px: both pages fit the screen (the tables scroll inside their own boxes).
    narrow = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
    phone = narrow.new_page()
    for url, image in ((table_url, "variants-sorted-390.png"), (detail_url, "variant-detail-390.png")):
        phone.goto(url)
        scroll, inner = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (url, scroll, inner)
        phone.screenshot(path=str(IMAGES / image), full_page=True)
    narrow.close()
    context.close()
