"""A job annotated with a transcript bundle, in Debian's Chromium on a local stack whose
database directory (GAS_ANNOTATION_DB_DIR) holds the genes-only databases and a small
bundle built by `gas-annotation-db build --name` before the workers start (issue 24,
items 3 and 5): the form offers it beside the genes-only ones, every page that shows the
job names the database, the annotated VCF names the bundle's sources and carries the
per-transcript CSQ, and the variant table's consequence column has per-transcript terms."""

from __future__ import annotations

import json
import re

import pytest
from deployed_bundle import deploy_bundle
from stack_support import aws_clients, started_stack
from support import DESKTOP, ROOT, sign_in_locally, signed_in_page
from test_pages_browser import _check, axe_js  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
IMAGES = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return deploy_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def bundle_stack(tmp_path_factory, bundle):
    yield from started_stack(tmp_path_factory, env={"GAS_ANNOTATION_DB_DIR": str(bundle.db_dir)})


def _info(line: str) -> dict[str, str]:
    return dict(f.split("=", 1) for f in line.split("\t")[7].split(";") if "=" in f)


def test_a_job_with_a_transcript_bundle_in_chromium(bundle_stack, bundle, browser, tmp_path):
    stack = bundle_stack
    manifest = json.loads((bundle.db_dir / f"gas-bundle-{bundle.name}-v2.manifest.json").read_text())
    model_sha = manifest["source"]["gene_model"]["sha256"]
    fasta_sha = manifest["source"]["fasta"]["sha256"]
    _, page = signed_in_page(
        browser,
        stack.url,
        "Sydney Brenner",
        "sydney@example.org",
        accept_downloads=True,
        viewport=DESKTOP,
    )

    # The form offers what is deployed: the genes-only databases and the bundle.
    page.goto(f"{stack.url}/annotate")
    options = page.locator("#assembly option").evaluate_all("os => os.map(o => [o.value, o.textContent.trim()])")
    assert ["GRCh37", "GRCh37 — genes only (hg19)"] in options
    assert ["GRCh38", "GRCh38 — genes only (hg38)"] in options
    assert [bundle.name, f"other genome — {bundle.name} transcripts (genes.gff3)"] in options
    assert page.locator("#assembly").input_value() == "GRCh37"  # make run's default stays genes only
    page.select_option("#assembly", bundle.name)
    page.fill("#job-name", "Bundle check")
    page.set_input_files("#file", str(bundle.vcf))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job_id = page.url.rsplit("/", 1)[-1]
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=120_000)

    # The job page names the bundle and its sources' checksums, as the annotator used them.
    database = page.locator("#job-database").inner_text()
    assert database.startswith(f"bundle {bundle.name}") and model_sha in database and fasta_sha in database
    page.goto(f"{stack.url}/annotations")
    row = page.locator(f'tr[data-job-id="{job_id}"] .gas-job-database')
    assert row.inner_text() == f"bundle {bundle.name}"
    page.goto(f"{stack.url}/annotations/{job_id}/log")
    assert f"bundle {bundle.name}" in page.locator("#job-database").inner_text()

    # The exported VCF names the bundle and its sources, and has per-transcript CSQ.
    aws = aws_clients(stack)
    job = aws("dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
    assert job["database"]["S"] == bundle.name
    annotated = (
        aws("s3").get_object(Bucket=f"{stack.prefix}-results", Key=job["result_key"]["S"])["Body"].read().decode()
    )
    lines = annotated.splitlines()
    assert f"##GAS_bundle=<Name={bundle.name},GeneModel=genes.gff3,GeneModelSHA256={model_sha}," in annotated
    assert f"Fasta=genome.fa,FastaSHA256={fasta_sha}>" in annotated
    records = [line for line in lines if line and not line.startswith("#")]
    csq = {i: _info(line)["CSQ"].split(",") for i, line in enumerate(records)}
    missense = {i for i, entries in csq.items() if any("missense_variant" in e.split("|")[1] for e in entries)}
    assert missense, "the generated variants hit coding sequence"

    # The variant table: the consequence column has per-transcript terms, each from the CSQ.
    page.goto(f"{stack.url}/annotations/{job_id}")
    page.click("#view-variants")
    page.wait_for_selector("#variants tbody tr[data-record]")
    assert page.locator("#job-database").inner_text() == f"bundle {bundle.name}"
    page.check("#f-consequence-missense_variant")  # the terms present, as checkboxes
    page.click("#apply-filter")
    page.wait_for_url(re.compile(r".*consequence=missense_variant.*"))
    shown = page.locator("#variants tbody tr[data-record]")
    assert shown.count() >= 1
    for i in range(shown.count()):
        record = int(shown.nth(i).get_attribute("data-record") or -1)
        assert record in missense and "missense_variant" in shown.nth(i).inner_text()  # SO terms as written

    # The table's VCF export of these rows keeps the header that names the bundle's sources.
    with page.expect_download() as download:
        page.click("#export-vcf")
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    text = exported.read_text()
    assert f"GeneModelSHA256={model_sha}," in text and f"FastaSHA256={fasta_sha}>" in text
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == len(
        {int(shown.nth(i).get_attribute("data-record") or -1) for i in range(shown.count())}
    )


def test_a_numeric_condition_and_an_impact_filter_from_the_form(bundle_stack, bundle, browser, axe_js):  # noqa: F811
    """The variant table's form without typing a URL (issue 26 item 4, decision 103): a
    condition built from the column / operator / value fields and an IMPACT checkbox keep
    exactly the ALTs whose POS and PICK_IMPACT say so in the annotated VCF; the condition
    shows as a chip that removes it; the page fits 390 px and passes axe-core."""
    stack = bundle_stack
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in_locally(page, stack.url, "Barbara McClintock", "barbara@example.org")
    page.goto(f"{stack.url}/annotate")
    page.select_option("#assembly", bundle.name)
    page.set_input_files("#file", str(bundle.vcf))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job_id = page.url.rsplit("/", 1)[-1]
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=120_000)
    aws = aws_clients(stack)
    job = aws("dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
    body = aws("s3").get_object(Bucket=f"{stack.prefix}-results", Key=job["result_key"]["S"])["Body"].read()
    # The expectation from the annotated VCF itself: (record, ALT) with POS <= limit and the IMPACT.
    records = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
    limit = sorted(int(r.split("\t")[1]) for r in records)[len(records) // 2]  # about half the file
    alts = [
        (i, alt, impact)
        for i, r in enumerate(records)
        for alt, impact in zip(r.split("\t")[4].split(","), _info(r)["PICK_IMPACT"].split(","), strict=True)
        if int(r.split("\t")[1]) <= limit
    ]
    impact = next(i for i in ("MODERATE", "HIGH", "LOW") if any(a[2] == i for a in alts))
    want = sorted((i, alt) for i, alt, imp in alts if imp == impact)

    page.goto(f"{stack.url}/annotations/{job_id}/variants?size=500")
    page.select_option("#f-where_column", "pos")
    page.select_option("#f-where_op", "<=")
    page.fill("#f-where_value", str(limit))
    page.check(f"#f-impact-{impact}")
    page.click("#apply-filter")
    page.wait_for_url(re.compile(r".*where_value=.*"))
    rows = page.locator("#variants tbody tr[data-record]")
    got = sorted(
        (int(rows.nth(i).get_attribute("data-record") or -1), rows.nth(i).locator("td.gas-allele").nth(1).inner_text())
        for i in range(rows.count())
    )
    assert got == want and int(page.locator("#showing").get_attribute("data-matched") or -1) == len(want)
    assert {rows.nth(i).locator("td.gas-impact").inner_text() for i in range(rows.count())} == {impact}
    chip = page.locator("#where-chips a.gas-chip")
    assert chip.count() == 1 and chip.inner_text().startswith(f"pos<={limit}")
    # the new fields, the chip and the rows (instant: Bootstrap scrolls smoothly)
    page.evaluate("document.getElementById('f-impacts').scrollIntoView({behavior: 'instant'})")
    page.screenshot(path=str(IMAGES / "variants-where-1280.png"), full_page=False)
    here = page.url
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=context.storage_state()
    ).new_page()
    phone.goto(here)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.evaluate("document.getElementById('where-chips').scrollIntoView({behavior: 'instant'})")
    phone.screenshot(path=str(IMAGES / "variants-where-390.png"), full_page=False)
    audit = browser.new_context(bypass_csp=True, storage_state=context.storage_state()).new_page()  # axe is injected
    problems = []
    for width in (1280, 390):
        audit.set_viewport_size({"width": width, "height": 844})
        problems += _check(audit, here, axe_js)
    assert not problems, problems
    # The chip removes the condition and keeps the IMPACT filter.
    page.locator("#where-chips a.gas-chip").click()
    page.wait_for_load_state()
    assert "where" not in page.url.split("?", 1)[-1] and f"impact={impact}" in page.url
    assert page.locator("#where-chips").count() == 0
