"""Results a researcher can read, in Debian's Chromium on the local stack (issue 12): a
premium user uploads premium_2.vcf, sees the summary charts and the variant table,
filters by a gene and a region (the count is right), exports TSV and VCF (exactly the
filtered rows, checked against the annotated VCF), then deletes the job: it is gone from
the pages, the API and S3. The test leaves a screenshot of the job page in docs/."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from support import DESKTOP, SAMPLES, signed_in_page

pytestmark = pytest.mark.browser
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "job-page.png"


def _info(line: str) -> dict[str, str]:
    fields = line.split("\t")[7].split(";")
    return dict(f.split("=", 1) if "=" in f else (f, "") for f in fields)


def _pick_filter(vcf_lines: list[str]) -> tuple[str, str, list[int]]:
    """A gene and a region that narrow the table: the gene with most records spanning at
    least two regions, and its most common region; with the matching records' indices."""
    by_gene: dict[str, Counter[str]] = {}
    for line in vcf_lines:
        info = _info(line)
        for gene in filter(None, info.get("GENE", "").split(",")):
            by_gene.setdefault(gene, Counter())[info["REGION"]] += 1
    gene = max((g for g, c in by_gene.items() if len(c) >= 2), key=lambda g: (sum(by_gene[g].values()), g))
    region = by_gene[gene].most_common(1)[0][0]
    records = [
        i
        for i, line in enumerate(vcf_lines)
        if gene in _info(line).get("GENE", "").split(",") and _info(line)["REGION"] == region
    ]
    return gene, region, records


def test_upload_read_filter_export_and_delete_in_chromium(stack, stack_aws, browser, tmp_path):
    context, page = signed_in_page(  # accepts "Delete this job?"
        browser,
        stack.url,
        "Barbara McClintock",
        "barbara@example.org",
        accept_dialogs=True,
        accept_downloads=True,
        viewport=DESKTOP,
    )
    # premium_2.vcf is over the free limit: the form says so and links to the upgrade.
    page.goto(f"{stack.url}/annotate")
    page.set_input_files("#file", str(SAMPLES / "premium_2.vcf"))
    page.click("#upload-button")
    page.locator("#upload-error").wait_for(state="visible")
    page.click("#upgrade-link")
    page.wait_for_url(f"{stack.url}/subscribe")
    page.click("#upgrade")

    page.goto(f"{stack.url}/annotate")
    page.select_option("#assembly", "GRCh37")
    page.fill("#job-name", "Premium sample 2 – maize check")
    page.set_input_files("#file", str(SAMPLES / "premium_2.vcf"))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job_id = page.url.rsplit("/", 1)[-1]
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=120_000)  # the page follows the job

    # The summary: every chart, each with its numbers.
    assert page.locator("#job-title").inner_text() == "Premium sample 2 – maize check"
    assert "GRCh37" in page.locator("#job-assembly").inner_text()
    for key in ("regions", "classes", "tstv", "known", "chromosomes", "genes", "flags"):
        assert page.locator(f"svg#chart-{key}").is_visible(), key
        assert page.locator(f"#table-{key} tbody tr").count() >= 1, key
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The annotated VCF, as the annotator stored it: the reference for what follows.
    s3 = stack_aws("s3")
    job = stack_aws("dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
    results = f"{stack.prefix}-results"
    annotated = s3.get_object(Bucket=results, Key=job["result_key"]["S"])["Body"].read().decode()
    header = [line for line in annotated.splitlines() if line.startswith("#")]
    records = [line for line in annotated.splitlines() if line and not line.startswith("#")]
    gene, region, matching = _pick_filter(records)
    alleles = sum(len(records[i].split("\t")[4].split(",")) for i in matching)

    # The table, then filtered by a gene and a region.
    page.click("#view-variants")
    page.wait_for_selector("#variants tbody tr[data-record]")
    total_alleles = sum(len(line.split("\t")[4].split(",")) for line in records)
    assert page.locator("#showing").get_attribute("data-total") == str(total_alleles)
    page.fill("#f-gene", gene)
    page.check(f"#f-region-{region}")
    page.click("#apply-filter")
    page.wait_for_url(re.compile(r".*gene=.*region=.*"))
    assert page.locator("#showing").get_attribute("data-matched") == str(alleles)
    assert page.locator("#matched").inner_text() == f"{alleles:,}"
    shown = [int(r) for r in page.locator("#variants tbody tr").evaluate_all("rs => rs.map(r => r.dataset.record)")]
    assert sorted(set(shown)) == matching[: len(set(shown))] and len(shown) == min(alleles, 50)
    filtered_url = page.url
    page.screenshot(path=str(SCREENSHOT.with_name("variants-page.png")), full_page=True)
    page.go_back()
    page.wait_for_selector("#variants")
    assert "gene=" not in page.url
    page.go_forward()
    assert page.url == filtered_url and page.locator("#f-gene").input_value() == gene

    # Exports of exactly these rows.
    with page.expect_download() as tsv_download:
        page.click("#export-tsv")
    tsv_path = tmp_path / tsv_download.value.suggested_filename
    tsv_download.value.save_as(tsv_path)
    # the file names the database it was annotated with (its version) before the filter
    database = job["database_version"]["S"]
    assert (
        tsv_download.value.suggested_filename
        == f"Premium_sample_2_maize_check.{database}.gene-{gene}.region-{region}.tsv"
    )
    tsv = tsv_path.read_text().splitlines()
    assert tsv[0].startswith("chrom\tpos\tid\trsid\tref\talt")
    want = [(f[0], f[1], f[3], alt) for f in (records[i].split("\t") for i in matching) for alt in f[4].split(",")]
    got = [(c[0], c[1], c[4], c[5]) for c in (line.split("\t") for line in tsv[1:])]
    assert got == want
    assert all(gene in c[8].split(",") and c[10] == region for c in (line.split("\t") for line in tsv[1:]))

    with page.expect_download() as vcf_download:
        page.click("#export-vcf")
    vcf_path = tmp_path / vcf_download.value.suggested_filename
    vcf_download.value.save_as(vcf_path)
    exported = vcf_path.read_text().splitlines()
    assert exported == header + [records[i] for i in matching]

    # Delete: gone from the pages, the API and S3.
    page.goto(f"{stack.url}/annotations/{job_id}")
    page.click("#delete-job")
    page.wait_for_url(f"{stack.url}/annotations")
    assert job_id not in page.content()
    assert page.goto(f"{stack.url}/annotations/{job_id}").status == 404
    assert page.goto(f"{stack.url}/api/annotations/{job_id}").status == 404
    assert (
        stack_aws("dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}}).get("Item")
        is None
    )
    leftover = s3.list_objects_v2(Bucket=results, Prefix=f"{job['user_id']['S']}/{job_id}/").get("Contents", [])
    assert leftover == []
    inputs = s3.list_objects_v2(Bucket=f"{stack.prefix}-inputs", Prefix="inputs/").get("Contents", [])
    assert not [o for o in inputs if job_id in o["Key"]]
    context.close()
