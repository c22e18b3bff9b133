"""Every page at a phone's width (390 px) and a desktop's (1280 px) in Debian's Chromium:
no horizontal page scroll (wide tables scroll inside their own box), and axe-core finds
no serious or critical accessibility violation. axe-core comes from the npm registry into
a cache (tools/install-axe.sh) and is injected into each page from there: no CDN.

Screenshots of the pages this check changed go to docs/images/ at both widths."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest
from support import PHONE, ROOT, SAMPLES, browser_page, sign_in_locally, signed_in_page

pytestmark = pytest.mark.browser

IMAGES = ROOT / "docs" / "images"
WIDTHS = (390, 1280)
# Pages whose screenshots the docs show (name -> path), at both widths.
SCREENSHOTS = ("jobs", "job", "api-docs")


@pytest.fixture(scope="module")
def axe_js() -> Path:
    done = subprocess.run([str(ROOT / "tools" / "install-axe.sh")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def _check(page, url: str, axe_js: Path) -> list[str]:
    """What is wrong with the page at `url` at the page's current width."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    width = page.viewport_size["width"]
    problems = []
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if scroll > inner:
        wide = page.evaluate(
            """(inner) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > inner + 1)
                .filter(e => !e.closest('.table-responsive, pre, .overflow-auto'))
                .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className)""",
            inner,
        )
        problems.append(f"{url} at {width}px: page scrolls sideways ({scroll} > {inner}): {wide}")
    page.add_script_tag(path=str(axe_js))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)"""
    )
    problems += [f"{url} at {width}px: axe {v}" for v in violations]
    return problems


def test_every_page_fits_a_phone_and_passes_axe(stack, browser, axe_js, tmp_path):
    context, page = browser_page(browser, bypass_csp=True)  # the CSP would refuse axe's injected script
    problems: list[str] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        for path in ("/", "/auth/local"):
            problems += _check(page, stack.url + path, axe_js)

    sign_in_locally(page, stack.url, "Rosalind Franklin", "rosalind.pages@example.org")
    page.goto(f"{stack.url}/annotate")
    page.fill("#job-name", "Pages check")
    page.set_input_files("#file", str(SAMPLES / "free_1.vcf"))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job = page.url
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=90_000)
    # A saved filter (through the table's form), so that /filters lists one.
    page.goto(f"{job}/variants?class=SNV")
    page.fill("#save-filter-name", "Pages check SNVs")
    page.click("#save-filter-submit")
    page.wait_for_load_state("networkidle")
    pages = {
        "home": "/",
        "annotate": "/annotate",
        "jobs": "/annotations",
        "job": job.removeprefix(stack.url),
        "variants": job.removeprefix(stack.url) + "/variants",
        "variant": job.removeprefix(stack.url) + "/variants/0",
        "log": job.removeprefix(stack.url) + "/log",
        "job-filtered": job.removeprefix(stack.url) + "?class=SNV&where=pos<10000",  # the charts of a filter
        "chart-terms": job.removeprefix(stack.url) + "/charts/consequences",  # the "other" bar's list
        "chart-terms-filtered": job.removeprefix(stack.url) + "/charts/genes?class=SNV",
        "filters": "/filters",
        "profile": "/profile",
        "subscribe": "/subscribe",
        "api-docs": "/api/v1/docs",
        "api-problem": "/api/v1/problems/not-found",
        "not-found": "/annotations/not-a-job",
    }
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        for name, path in pages.items():
            problems += _check(page, stack.url + path, axe_js)
            if name in SCREENSHOTS:
                # The API docs page is long: its first screen shows what changed.
                page.screenshot(path=str(IMAGES / f"{name}-{width}.png"), full_page=name != "api-docs")

    # The question a file on another assembly than the one chosen gets (before any job).
    grch38 = tmp_path / "grch38.vcf"
    grch38.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "1\t10177\t.\tA\tAC\t.\tPASS\t.\n"
    )
    page.goto(f"{stack.url}/annotate")
    page.select_option("#assembly", "GRCh37")
    page.set_input_files("#file", str(grch38))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/new\?.*"))
    question = page.url
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        problems += _check(page, question, axe_js)
        assert page.locator("#assembly-warning").is_visible(), "no assembly question"

    # The API docs page is a page of the site: the signed-in user, and code where the
    # descriptions have `backticks`.
    page.goto(f"{stack.url}/api/v1/docs")
    if not page.locator("nav").get_by_text("Rosalind Franklin").is_visible():
        problems.append("the API docs page does not show the signed-in user")
    if page.get_by_role("link", name="Sign in").count():
        problems.append("the API docs page offers a signed-in user to sign in")
    prose = page.evaluate(
        """() => { const m = document.querySelector('main').cloneNode(true);
                   m.querySelectorAll('pre, code').forEach(p => p.remove()); return m.textContent }"""
    )
    if "`" in prose:  # JSON shown as code keeps its strings as they are
        problems.append("the API docs page shows raw backticks")
    if page.locator("#create_job .api-description code", has_text="assembly-mismatch").count() != 1:
        problems.append("the API docs page's `assembly-mismatch` is not code")
    context.close()
    assert not problems, "\n".join(problems)


def test_cancel_a_running_job_from_its_page_on_a_phone(stack, browser, axe_js, tmp_path):
    context, page = signed_in_page(  # accepts "Cancel this job?"
        browser,
        stack.url,
        "Barbara Cancel",
        "barbara.cancel@example.org",
        accept_dialogs=True,
        bypass_csp=True,
        viewport=PHONE,
    )
    page.goto(f"{stack.url}/subscribe")
    page.click("#upgrade")  # a file that keeps the engine busy is over the free limit
    big = tmp_path / "big.vcf.gz"
    with gzip.open(big, "wt") as out:
        out.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        out.write("".join(f"1\t{100000 + 50 * i}\t.\tA\tG\t50\tPASS\t.\n" for i in range(400_000)))
    page.goto(f"{stack.url}/annotate")
    page.set_input_files("#file", str(big))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job = page.url
    problems = _check(page, job, axe_js)  # the page of an active job: Cancel, Rename
    page.click("#cancel-job")
    page.wait_for_url(job)
    page.locator('#job-status [data-status="CANCELLED"]').wait_for()
    assert page.locator("#job-cancelled").is_visible() and page.locator("#cancel-job").count() == 0
    problems += _check(page, job, axe_js)
    page.screenshot(path=str(IMAGES / "job-cancelled-390.png"), full_page=True)
    context.close()
    assert not problems, "\n".join(problems)
