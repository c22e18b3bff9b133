"""The job summary as charts: server-side SVG bar charts, each with its numbers as a table.

Drawn here rather than in the browser: no JavaScript or vendored charting library to
keep current, nothing for the CSP to allow (inline SVG with presentation attributes and
classes from gas.css), and the page works without JavaScript. Each chart is an `<svg
role="img">` named by its title; the table beside it carries the same numbers for screen
readers and copy-paste.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup, escape

from gas.core.vocab import KNOWN_SOURCES, TABLE_COLUMN, TSTV
from gas.web.variants import CHROMOSOMES, FLAGS, REGIONS, VARIANT_CLASSES, normalise_chrom

LABEL_LINE = 16  # px: a label and its count on one line, the bar under it
BAR_HEIGHT = 10
GAP = 8
MAX_SHOWN_LABEL = 36  # characters of a label drawn (the <title> and the table carry it whole)
# The chart is drawn in CSS pixels (no viewBox: nothing scales), bars as percentages of its
# width: its text stays 12 px at any screen width. A viewBox chart 560 units wide shrank
# its 11 px labels to ~6.5 px on a 390 px phone.
OTHER = "\x00other"  # the value of an "other" bar: it opens the list of every term


@dataclass(frozen=True)
class Chart:
    key: str  # element ids: chart-<key>, table-<key>
    title: str
    items: list[tuple[str, int]]
    note: str = ""
    # The table filter of the chart's bars: parameter, and per item the value a click adds
    # (None: no filter says it; OTHER: the "other" bar). Empty: the bars are not links.
    parameter: str = ""
    values: tuple[str | None, ...] = ()
    # Per item, a parameter other than `parameter` ("" keeps it): the known chart's sources
    # are where= conditions, its "novel" bar known=novel.
    parameters: tuple[str, ...] = ()
    links: tuple[str | None, ...] = ()  # per item, its href (set by the page: `linked`)
    more: str | None = None  # every term with its count (the "other" list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.items)

    def linked(self, href: Callable[[str, str], str | None], more: str | None = None) -> Chart:
        """This chart with each bar that counts something a link: href(parameter, value),
        and the "other" bar to `more`."""
        if not self.values:  # no filter says this chart's values
            return replace(self, more=more)
        parameters = self.parameters or ("",) * len(self.items)
        links = tuple(  # an empty bar opens no empty table
            None if value is None or not count else more if value == OTHER else href(parameter or self.parameter, value)
            for value, parameter, (_, count) in zip(self.values, parameters, self.items, strict=True)
        )
        return replace(self, links=links, more=more)

    def rows(self) -> list[tuple[str, int, str | None]]:
        """(label, count, href or None) per item."""
        links = self.links or (None,) * len(self.items)
        return [(label, count, link) for (label, count), link in zip(self.items, links, strict=True)]

    def svg(self) -> Markup:
        """A bar chart: per item a line with its label and count, and a bar scaled to the
        largest under it; a bar with a link is an SVG <a> (keyboard focusable)."""
        peak = max((n for _, n in self.items), default=0) or 1
        step = LABEL_LINE + BAR_HEIGHT + GAP
        height = len(self.items) * step + 2
        linked = any(self.links)
        parts = [
            f'<svg class="gas-chart" id="chart-{self.key}" role="{"group" if linked else "img"}" '
            f'aria-labelledby="chart-{self.key}-title" width="100%" height="{height}" '
            'xmlns="http://www.w3.org/2000/svg">',
            f'<title id="chart-{self.key}-title">{escape(self.title)}</title>',
        ]
        for i, (label, count, link) in enumerate(self.rows()):
            y = i * step
            share = round(100 * count / peak, 2) if count else 0
            shown = label if len(label) <= MAX_SHOWN_LABEL else label[: MAX_SHOWN_LABEL - 1] + "…"
            bar = (
                f'<text class="gas-chart-label" x="0" y="{y + 12}">{escape(shown)}</text>'
                f'<text class="gas-chart-value" x="100%" y="{y + 12}" text-anchor="end">{count:,}</text>'
                f'<rect class="gas-chart-bar gas-chart-bar-{i % 8}" x="0" y="{y + LABEL_LINE}" '
                f'width="{max(share, 0.3) if count else 0}%" height="{BAR_HEIGHT}"></rect>'
            )
            if link:
                name = f"{label}: {count:,}, " + ("list every term" if self.values[i] == OTHER else "filter the table")
                # Named by its <title> (SVG's own way): an aria-label would have to repeat
                # the drawn text exactly (axe: label-content-name-mismatch).
                parts.append(f'<a class="gas-bar" href="{escape(link)}"><title>{escape(name)}</title>{bar}</a>')
            else:
                parts.append(f'<g class="gas-bar"><title>{escape(label)}: {count:,}</title>{bar}</g>')
        parts.append("</svg>")
        return Markup("".join(parts))


# Bounds of what a chart draws, whatever the summary holds (summaries written before the
# engine bounded its lists name any number of contigs: 45,000 made a 17.8 MB page).
MAX_BARS = 25  # the largest items; the rest are one "other (N …)" bar, a link to all of them
MAX_LABEL = 64  # characters of a label


# The bars' labels of the vocabulary's values (gas.core.vocab), in its order.
_TSTV_LABELS = dict(zip(TSTV, ("transitions (ts)", "transversions (tv)"), strict=True))
_KNOWN_LABELS = dict(zip(KNOWN_SOURCES, ("known: database", "known: rsID in the file", "known: both"), strict=True))


# Bars no filter parameter of their own says are `where=` conditions (decision 103) on the
# table's column; a click replaces a condition on the same column (gas.web.jobs.common.filter_args).
WHERE = "where"
TSTV_COLUMN = "tstv"
KNOWN_SOURCE_COLUMN = "known_source"
assert {TSTV_COLUMN, KNOWN_SOURCE_COLUMN} <= set(TABLE_COLUMN)


def _condition(column: str, value: str) -> str:
    return f"{column}={value}"


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


def _values(items: list[tuple[str, int]], linkable: Callable[[str], bool] = lambda _: True) -> tuple[str | None, ...]:
    """Each item's filter value: its label, OTHER for the "other" bar, None if not a value."""
    return tuple(OTHER if label.startswith("other (") else label if linkable(label) else None for label, _ in items)


# Charts whose terms are listed whole on a page of their own (the "other" bar's link).
LISTED = ("consequences", "chromosomes", "genes")


def charts(summary: dict[str, Any]) -> list[Chart]:
    """The charts of an engine summary (`<name>.summary.json`, or the same counts of a
    filter's rows: gas.web.variants.facets); sections it lacks are left out."""
    out: list[Chart] = []
    if isinstance(summary.get("regions"), dict):
        items = _ordered(summary["regions"], REGIONS)
        out.append(Chart("regions", "Variants by region", items, parameter="region", values=_values(items)))
    consequences = summary.get("consequences")
    if isinstance(consequences, dict) and consequences:
        top, rest = _largest(consequences, "terms")
        items = top + ([rest] if rest else [])
        terms = _values(items)
        out.append(Chart("consequences", "Most severe consequence", items, parameter="consequence", values=terms))
    if isinstance(summary.get("variant_classes"), dict):
        items = _ordered(summary["variant_classes"], VARIANT_CLASSES)
        out.append(Chart("classes", "Variant classes", items, parameter="class", values=_values(items)))
    tstv = summary.get("tstv")
    if isinstance(tstv, dict):
        ratio = tstv.get("ratio")
        note = f"ts/tv ratio {ratio}" if ratio is not None else "no transversions: no ratio"
        items = [(label, _count(tstv.get(key, 0))) for key, label in _TSTV_LABELS.items()]
        kinds = tuple(_condition(TSTV_COLUMN, key) for key in _TSTV_LABELS)
        out.append(Chart("tstv", "Transitions and transversions (SNVs)", items, note, parameter=WHERE, values=kinds))
    if "known" in summary and "novel" in summary:
        items = [("known (rsID)", _count(summary["known"])), ("novel", _count(summary["novel"]))]
        values: tuple[str | None, ...] = ("known", "novel")
        parameters: tuple[str, ...] = ()
        sources = summary.get("known_sources")
        if isinstance(sources, dict):  # where "known" came from (engines before it: one bar)
            items = [(label, _count(sources.get(key, 0))) for key, label in _KNOWN_LABELS.items()]
            items.append(("novel", _count(summary["novel"])))
            values = (*(_condition(KNOWN_SOURCE_COLUMN, key) for key in _KNOWN_LABELS), "novel")
            parameters = (WHERE,) * len(_KNOWN_LABELS) + ("",)
        out.append(
            Chart("known", "Known and novel alleles", items, parameter="known", values=values, parameters=parameters)
        )
    contigs = summary.get("contigs")
    if isinstance(contigs, dict) and contigs:
        written = summary.get("contigs_other")
        left_out = (
            (_count(written.get("contigs")), _count(written.get("variants"))) if isinstance(written, dict) else (0, 0)
        )
        top, rest = _largest(contigs, "contigs", left_out)
        top.sort(key=lambda kv: _chromosome_order(kv[0]))
        items = top + ([rest] if rest else [])
        values = _values(items, lambda name: normalise_chrom(name) is not None)  # the filter's chromosomes
        out.append(Chart("chromosomes", "Variants per chromosome", items, parameter="chrom", values=values))
    genes = summary.get("top_genes")
    if isinstance(genes, list) and genes:
        items = [(str(g.get("gene"))[:MAX_LABEL], _count(g.get("variants"))) for g in genes if isinstance(g, dict)]
        items = items[:MAX_BARS]
        out.append(Chart("genes", f"Top {len(items)} genes", items, parameter="gene", values=_values(items)))
    if isinstance(summary.get("flags"), dict):
        items = _ordered(summary["flags"], FLAGS)
        out.append(Chart("flags", "Flags", items, parameter="flag", values=_values(items)))
    return out
