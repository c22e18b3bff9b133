"""The job summary as charts: server-side SVG bar charts, each with its numbers as a table.

Drawn here rather than in the browser: no JavaScript or vendored charting library to
keep current, nothing for the CSP to allow (inline SVG with presentation attributes and
classes from gas.css), and the page works without JavaScript. Each chart is an `<svg
role="img">` named by its title; the table beside it carries the same numbers for screen
readers and copy-paste.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from gas.core.vocab import KNOWN_SOURCES, TSTV
from gas.web.variants import CHROMOSOMES, FLAGS, REGIONS, VARIANT_CLASSES, normalise_chrom

BAR_HEIGHT = 18
GAP = 6
CHAR_WIDTH = 6.5  # of an 11px label, for the label column's width
WIDTH = 560  # every chart the same, so their text is the same size on the page
VALUE_WIDTH = 60


@dataclass(frozen=True)
class Chart:
    key: str  # element ids: chart-<key>, table-<key>
    title: str
    items: list[tuple[str, int]]
    note: str = ""

    @property
    def total(self) -> int:
        return sum(n for _, n in self.items)

    def svg(self) -> Markup:
        """A horizontal bar chart: one labelled bar per item, scaled to the largest."""
        peak = max((n for _, n in self.items), default=0) or 1
        height = len(self.items) * (BAR_HEIGHT + GAP) + GAP
        longest = max((len(label) for label, _ in self.items), default=4)
        label_width = min(round(CHAR_WIDTH * longest) + 12, WIDTH // 2)
        bar_width = WIDTH - label_width - VALUE_WIDTH
        width = WIDTH
        parts = [
            f'<svg class="gas-chart" id="chart-{self.key}" role="img" aria-labelledby="chart-{self.key}-title" '
            f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
            'xmlns="http://www.w3.org/2000/svg">',
            f'<title id="chart-{self.key}-title">{escape(self.title)}</title>',
        ]
        for i, (label, count) in enumerate(self.items):
            y = GAP + i * (BAR_HEIGHT + GAP)
            length = round(bar_width * count / peak) if count else 0
            middle = y + BAR_HEIGHT / 2
            parts.append(
                f'<g class="gas-bar"><text class="gas-chart-label" x="{label_width - 6}" y="{middle}" '
                f'text-anchor="end" dominant-baseline="middle">{escape(label)}</text>'
                f'<rect class="gas-chart-bar gas-chart-bar-{i % 8}" x="{label_width}" y="{y}" '
                f'width="{max(length, 1 if count else 0)}" height="{BAR_HEIGHT}"><title>{escape(label)}: '
                f"{count:,}</title></rect>"
                f'<text class="gas-chart-value" x="{label_width + length + 6}" y="{middle}" '
                f'dominant-baseline="middle">{count:,}</text></g>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))


# Bounds of what a chart draws, whatever the summary holds (summaries written before the
# engine bounded its lists name any number of contigs: 45,000 made a 17.8 MB page).
MAX_BARS = 25  # the largest items; the rest are one "other (N …)" bar, not a link (yet)
MAX_LABEL = 64  # characters of a label


# The bars' labels of the vocabulary's values (gas.core.vocab), in its order.
_TSTV_LABELS = dict(zip(TSTV, ("transitions (ts)", "transversions (tv)"), strict=True))
_KNOWN_LABELS = dict(zip(KNOWN_SOURCES, ("known: database", "known: rsID in the file", "known: both"), strict=True))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _ordered(counts: dict[str, Any], order: tuple[str, ...]) -> list[tuple[str, int]]:
    return [(name, _count(counts.get(name, 0))) for name in order]


def _largest(
    counts: dict[str, Any], unit: str, other: tuple[int, int] = (0, 0)
) -> tuple[list[tuple[str, int]], tuple[str, int] | None]:
    """The MAX_BARS largest counts (largest first) and the rest as one item, "other (N
    <unit>)" (None when there is no rest); `other` adds (items, count) the writer already
    left out."""
    items = [(str(k)[:MAX_LABEL], _count(v)) for k, v in counts.items()]
    top = heapq.nsmallest(MAX_BARS, items, key=lambda kv: (-kv[1], kv[0]))
    rest_items = len(items) - len(top) + other[0]
    if not rest_items:
        return top, None
    rest = sum(n for _, n in items) - sum(n for _, n in top) + other[1]
    return top, (f"other ({rest_items:,} {unit})", rest)


def _chromosome_order(name: str) -> tuple[int, str]:
    plain = normalise_chrom(name)
    return (CHROMOSOMES.index(plain), "") if plain else (len(CHROMOSOMES), name)


def charts(summary: dict[str, Any]) -> list[Chart]:
    """The charts of an engine summary (`<name>.summary.json`); sections it lacks are left out."""
    out: list[Chart] = []
    if isinstance(summary.get("regions"), dict):
        out.append(Chart("regions", "Variants by region", _ordered(summary["regions"], REGIONS)))
    consequences = summary.get("consequences")
    if isinstance(consequences, dict) and consequences:
        items, rest = _largest(consequences, "terms")
        out.append(Chart("consequences", "Most severe consequence", items + ([rest] if rest else [])))
    if isinstance(summary.get("variant_classes"), dict):
        out.append(Chart("classes", "Variant classes", _ordered(summary["variant_classes"], VARIANT_CLASSES)))
    tstv = summary.get("tstv")
    if isinstance(tstv, dict):
        ratio = tstv.get("ratio")
        note = f"ts/tv ratio {ratio}" if ratio is not None else "no transversions: no ratio"
        items = [(label, _count(tstv.get(key, 0))) for key, label in _TSTV_LABELS.items()]
        out.append(Chart("tstv", "Transitions and transversions (SNVs)", items, note))
    if "known" in summary and "novel" in summary:
        items = [("known (rsID)", _count(summary["known"])), ("novel", _count(summary["novel"]))]
        sources = summary.get("known_sources")
        if isinstance(sources, dict):  # where "known" came from (engines before it: one bar)
            items = [(label, _count(sources.get(key, 0))) for key, label in _KNOWN_LABELS.items()]
            items.append(("novel", _count(summary["novel"])))
        out.append(Chart("known", "Known and novel alleles", items))
    contigs = summary.get("contigs")
    if isinstance(contigs, dict) and contigs:
        written = summary.get("contigs_other")
        left_out = (
            (_count(written.get("contigs")), _count(written.get("variants"))) if isinstance(written, dict) else (0, 0)
        )
        items, rest = _largest(contigs, "contigs", left_out)
        items.sort(key=lambda kv: _chromosome_order(kv[0]))
        out.append(Chart("chromosomes", "Variants per chromosome", items + ([rest] if rest else [])))
    genes = summary.get("top_genes")
    if isinstance(genes, list) and genes:
        items = [(str(g.get("gene"))[:MAX_LABEL], _count(g.get("variants"))) for g in genes if isinstance(g, dict)]
        items = items[:MAX_BARS]
        out.append(Chart("genes", f"Top {len(items)} genes", items))
    if isinstance(summary.get("flags"), dict):
        out.append(Chart("flags", "Flags", _ordered(summary["flags"], FLAGS)))
    return out
