"""Charts that follow the table's filter and saved filters, in Debian's Chromium on the local
stack: a user filters the variant table, opens the charts of its rows (they change), clicks
a bar from the keyboard (the table is filtered by it), saves the filter and applies it on
another job. At 390 and 1280 px the pages fit the screen, axe finds nothing serious and the
chart labels stay at least 11 px. Screenshots go to docs/images/charts-*.png."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from support import DESKTOP, ROOT, SAMPLES, signed_in_page
from test_pages_browser import WIDTHS, _check, axe_js  # noqa: F401 (axe_js: the fixture)

pytestmark = pytest.mark.browser
IMAGES = ROOT / "docs" / "images"


def _numbers(page, key: str) -> dict[str, int]:
    cells = page.locator(f"#table-{key} tbody tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent])"
    )
    return {label: int(n) for label, n in cells}


def _upload(page, url: str, name: str, file: str) -> str:
    page.goto(f"{url}/annotate")
    page.fill("#job-name", name)
    page.set_input_files("#file", str(SAMPLES / file))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(url)}/annotations/[0-9a-f-]{{36}}$"))
    return page.url


def test_filter_charts_click_a_bar_save_and_apply_on_another_job(stack, browser, axe_js):  # noqa: F811
    context, page = signed_in_page(  # bypass_csp: axe is injected
        browser, stack.url, "Mary-Claire King", "mary-claire.charts@example.org", bypass_csp=True, viewport=DESKTOP
    )
    other = _upload(page, stack.url, "Charts: second job", "test.vcf")
    job = _upload(page, stack.url, "Charts check", "free_1.vcf")
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=90_000)
    everything = _numbers(page, "classes")

    # Filter the table (SNVs only), then open the charts of its rows: they change.
    page.goto(f"{job}/variants")
    page.check("#f-class-SNV")
    page.click("#apply-filter")
    page.wait_for_url(re.compile(r".*/variants\?.*class=SNV"))
    matched = int(page.locator("#showing").get_attribute("data-matched"))
    page.click("#charts-link")
    page.wait_for_url(re.compile(r".*/annotations/[0-9a-f-]{36}\?class=SNV#summary$"))
    assert int(page.locator("#chart-filter").get_attribute("data-rows")) == matched
    classes = _numbers(page, "classes")
    assert classes["SNV"] == everything["SNV"] == matched
    assert sum(classes.values()) == matched < sum(everything.values())
    filtered_charts = page.url
    regions = {k: v for k, v in _numbers(page, "regions").items() if v}
    assert regions

    # A bar is a link, reached and followed from the keyboard.
    region = max(regions, key=lambda r: regions[r])
    bar = page.locator("svg#chart-regions a.gas-bar").filter(has=page.locator("title", has_text=f"{region}: "))
    bar.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/variants\?.*"))
    assert dict(parse_qsl(urlsplit(page.url).query)) == {"class": "SNV", "region": region}
    assert page.locator(f"#f-region-{region}").is_checked() and page.locator("#f-class-SNV").is_checked()
    # The bar counts table rows, one per ALT (free_1.vcf has multi-allelic records).
    assert int(page.locator("#showing").get_attribute("data-matched")) == regions[region]

    # Save it, and apply it on the other job.
    page.fill("#save-filter-name", f"SNVs in {region}")
    page.click("#save-filter-submit")
    page.locator(".gas-saved-filter", has_text=f"SNVs in {region}").wait_for()
    page.goto(f"{other}/variants")
    page.locator(".gas-saved-filter", has_text=f"SNVs in {region}").click()
    page.wait_for_url(re.compile(rf"{re.escape(other)}/variants\?.*"))
    assert dict(parse_qsl(urlsplit(page.url).query)) == {"class": "SNV", "region": region}
    assert page.locator(".gas-saved-filter[aria-current=true]").count() == 1

    problems: list[str] = []
    pages = {
        "charts-filtered": filtered_charts,
        "variants-saved": page.url,
        "charts-terms": f"{job}/charts/genes?class=SNV",
        "filters": f"{stack.url}/filters",
    }
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        for name, url in pages.items():
            problems += _check(page, url, axe_js)
            if name == "charts-filtered":
                # The labels' drawn size: their font size times the SVG's scale on screen.
                sizes = page.locator("svg.gas-chart .gas-chart-label").evaluate_all(
                    "els => els.map(e => e.getScreenCTM().a * parseFloat(getComputedStyle(e).fontSize))"
                )
                if min(sizes) < 11:
                    problems.append(f"chart labels at {width}px are {min(sizes):.1f} px")
            if name == "charts-filtered":
                page.screenshot(path=str(IMAGES / f"{name}-{width}.png"), full_page=True)
            elif name == "variants-saved":  # the filter form and the saved filters, not every row
                page.locator("#saved-filters").scroll_into_view_if_needed()
                page.screenshot(path=str(IMAGES / f"{name}-{width}.png"))
    context.close()
    assert not problems, "\n".join(problems)
