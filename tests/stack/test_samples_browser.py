"""Samples as a researcher follows them, in Debian's Chromium on the local stack (issue 26
item 3): a premium user uploads a 107-sample VCFv3.3 file (generated: tests/samples_vcf.py),
opens the per-sample counts (a chart and a table, paged), follows one sample's "carriers"
link, shows its genotype column, and pages through the filtered table: the records are
exactly those bcftools keeps (`bcftools view -s S | bcftools view -i 'GT="alt"'`) on the
annotated VCF the annotator stored. Screenshots at 1280 and 390 px go to docs/images/; at
390 px neither page scrolls sideways, and axe-core finds no serious or critical violation."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from samples_vcf import SAMPLES, write_v33
from support import DESKTOP, PHONE, signed_in_page
from test_pages_browser import _check, axe_js  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def _bcftools_positions(vcf: Path, sample: str) -> set[str]:
    subset = subprocess.run(["bcftools", "view", "-s", sample, str(vcf)], capture_output=True, check=True)
    kept = subprocess.run(
        ["bcftools", "query", "-i", 'GT="alt"', "-f", "%CHROM:%POS\\n", "-"],
        input=subset.stdout,
        capture_output=True,
        check=True,
    )
    return set(kept.stdout.decode().split())


def _no_side_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_sample_counts_filter_and_genotypes_in_chromium(stack, stack_aws, browser, axe_js, tmp_path):  # noqa: F811
    vcf = write_v33(tmp_path / "cohort.vcf")
    context, page = signed_in_page(browser, stack.url, "Mary Lyon", "mary@example.org", viewport=DESKTOP)
    page.goto(f"{stack.url}/subscribe")
    page.click("#upgrade")  # 3 MB: over the free limit
    page.goto(f"{stack.url}/annotate")
    page.select_option("#assembly", "GRCh37")
    page.set_input_files("#file", str(vcf))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job_id = page.url.rsplit("/", 1)[-1]
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=120_000)
    job = stack_aws("dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
    assert job["genotypes_key"]["S"].endswith("cohort.genotypes.parquet")
    annotated = tmp_path / "cohort.annot.vcf"
    body = stack_aws("s3").get_object(Bucket=f"{stack.prefix}-results", Key=job["result_key"]["S"])["Body"]
    annotated.write_bytes(body.read())
    records = [line.split("\t", 2) for line in annotated.read_text().splitlines() if not line.startswith("#")]

    # The per-sample counts: a chart and a table, 25 samples a page.
    page.click("#view-samples")
    page.wait_for_selector("svg#chart-samples")
    assert page.locator("#samples-count").get_attribute("data-samples") == "107"
    assert page.locator("#sample-counts tbody tr").count() == 25
    assert page.locator("#sample-pager").get_attribute("data-pages") == "5"
    page.screenshot(path=str(IMAGES / "samples-1280.png"), full_page=True)
    page.click("#samples-page-3")
    page.wait_for_url(re.compile(r".*samples\?page=3$"))
    sample = SAMPLES[50]  # on page 3: samples 51-75
    row = page.locator(f'#sample-counts tr[data-sample="{sample}"]')
    shown_count = int(row.locator(".gas-variants").inner_text().replace(",", ""))

    # Its carriers: the table filtered by the sample, with its genotype column.
    row.locator(".gas-carriers").click()
    page.wait_for_selector("#variants tbody tr[data-record]")
    assert page.locator("#f-sample").input_value() == sample
    assert page.locator(f'#variants th.gas-genotype[data-sample="{sample}"]').count() == 1
    page.click("#size-500")
    page.wait_for_url(re.compile(r".*size=500"))
    found: set[str] = set()
    while True:
        for record in page.locator("#variants tbody tr[data-record]").evaluate_all(
            "rows => rows.map(r => r.dataset.record)"
        ):
            chrom, pos, _ = records[int(record)]
            found.add(f"{chrom}:{pos}")
        gts = page.locator(f'#variants td.gas-genotype[data-sample="{sample}"] .gas-gt').all_inner_texts()
        assert gts and all(any(a not in "0." for a in re.split(r"[/|]", gt)) for gt in gts)  # each carries an ALT
        if page.locator("#page-next").count() == 0:
            break
        page.click("#page-next")
        page.wait_for_load_state()
    want = _bcftools_positions(annotated, sample)
    assert found == want and len(want) == shown_count > 1000
    page.click("#page-first")
    page.wait_for_load_state()
    page.screenshot(path=str(IMAGES / "variants-sample-1280.png"), full_page=False)

    # At 390 px: no page scrolls sideways (the tables scroll in their own boxes).
    phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(page.url)
    small.wait_for_selector("#variants tbody tr[data-record]")
    _no_side_scroll(small)
    small.screenshot(path=str(IMAGES / "variants-sample-390.png"), full_page=False)
    small.goto(f"{stack.url}/annotations/{job_id}/samples")
    small.wait_for_selector("svg#chart-samples")
    _no_side_scroll(small)
    small.screenshot(path=str(IMAGES / "samples-390.png"), full_page=True)
    phone.close()

    # Both pages at both widths: no sideways scroll, no serious or critical axe-core violation.
    checked = browser.new_context(bypass_csp=True, storage_state=context.storage_state())  # axe is injected
    audit = checked.new_page()
    problems: list[str] = []
    for width in (390, 1280):
        audit.set_viewport_size({"width": width, "height": 844})
        for url in (f"{stack.url}/annotations/{job_id}/samples", page.url):
            problems += _check(audit, url, axe_js)
    assert not problems, "\n".join(problems)
    checked.close()
    context.close()
