"""Conditions on any column (`where=COLUMN OP VALUE`), the IMPACT filter and numeric sorts of
the variant table (issues 24, 25 item 4, 26 item 4; decision 103), through the flask app
over moto: the page, the API and the exports answer what plain Python says of the rows."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlencode

import pytest
from api_support import bearer, create_token, problem
from results_support import condition_holds, expected_rows, make_result, store_result

from gas.web.variants import Condition, FilterError, VariantFilter


@pytest.fixture(scope="module")
def result():
    return make_result(records=600)


def _matched(html: str) -> int:
    return int(re.search(r'data-matched="(\d+)"', html).group(1))


def _api_records(client, token, job_id, args) -> list[tuple[int, str]]:
    """Every matching row's (record, ALT), following the cursor."""
    records, cursor = [], None
    while True:
        query = urlencode([*args, ("size", "500"), *([("cursor", cursor)] if cursor else [])])
        page = client.get(f"/api/v1/jobs/{job_id}/variants?{query}", headers=bearer(token)).get_json()
        records += [(v["record"], v["alt"]) for v in page["variants"]]
        cursor = page["next_cursor"]
        if not cursor:
            return records


WHERES = [
    ["qual>=30"],
    ["nearest_distance<=1000"],
    ["phenotype_count>0"],
    ["qual<100", "variant_class=SNV"],
    ["region in intron,CDS"],
    ["genes=TP53"],
    ["flags!=BLACKLIST"],
    ["qual!=50"],
    ["filter!=PASS", "pos>100000"],
]


@pytest.mark.parametrize("wheres", WHERES, ids=lambda w: "&".join(w))
def test_conditions_keep_what_plain_python_keeps(sign_in, client, web_aws, result, wheres):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    job = store_result(web_aws, user_id, result)
    filt = VariantFilter.from_args({"where": wheres})
    want = expected_rows(result.rows, filt)
    assert 0 < len(want) < len(result.rows), "a condition that keeps all or nothing proves little"
    args = [("where", w) for w in wheres]
    page = c.get(f"/annotations/{job.job_id}/variants?{urlencode(args)}")
    assert page.status_code == 200 and _matched(page.get_data(as_text=True)) == len(want)
    assert _api_records(client, token, job.job_id, args) == [(r["record"], r["alt"]) for r in want]
    export = c.get(f"/annotations/{job.job_id}/variants.csv?{urlencode(args)}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export)))
    assert [(r["chrom"], int(r["pos"]), r["alt"]) for r in rows] == [(r["chrom"], r["pos"], r["alt"]) for r in want]


def test_nulls_never_match_a_comparison(result):
    """Rows without QUAL are in neither `qual<50` nor `qual>=50` nor `qual!=50`."""
    no_qual = [r for r in result.rows if r["qual"] is None]
    assert no_qual
    for text in ("qual<50", "qual>=50", "qual!=50", "qual=50"):
        assert not any(condition_holds(r["qual"], Condition.parse(text)) for r in no_qual)
        kept = expected_rows(result.rows, VariantFilter.from_args({"where": text}))
        assert all(r["qual"] is not None for r in kept)


@pytest.mark.parametrize("sort", ["nearest_distance", "-nearest_distance", "phenotype_count", "-qual", "pos"])
def test_a_numeric_sort_is_pythons_sorted_with_nulls_last(sign_in, client, web_aws, result, sort):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    job = store_result(web_aws, user_id, result)
    name = sort.lstrip("-")
    present = sorted((r for r in result.rows if r[name] is not None), key=lambda r: r[name], reverse=sort[0] == "-")
    # sorted() is stable: ties keep file order, as the table's stable argsort does
    want = [(r["record"], r["alt"]) for r in [*present, *(r for r in result.rows if r[name] is None)]]
    got = _api_records(client, token, job.job_id, [("sort", sort)])
    assert got == want
    # With a condition the same order, of the rows it keeps; the page links the column's sort.
    filtered = _api_records(client, token, job.job_id, [("sort", sort), ("where", "variant_class=SNV")])
    snv = {(r["record"], r["alt"]) for r in result.rows if r["variant_class"] == "SNV"}
    assert filtered == [r for r in want if r in snv]
    html = c.get(f"/annotations/{job.job_id}/variants?sort={sort}").get_data(as_text=True)
    assert 'id="showing"' in html


def test_the_form_adds_one_condition_and_chips_remove_each(sign_in, web_aws, result):
    """Without JavaScript: the form's column/operator/value triple becomes a where=, the
    conditions already set ride along, and each shows as a chip linking to the table without it."""
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    query = urlencode(
        [("where", "qual>=30"), ("where_column", "variant_class"), ("where_op", "="), ("where_value", "SNV")]
    )
    html = c.get(f"/annotations/{job.job_id}/variants?{query}").get_data(as_text=True)
    both = VariantFilter.from_args({"where": ["qual>=30", "variant_class=SNV"]})
    assert _matched(html) == len(expected_rows(result.rows, both))
    chips = re.findall(r'<a[^>]*class="[^"]*gas-chip[^"]*"[^>]*href="([^"]+)"', html) or re.findall(
        r'<a[^>]*href="([^"]+)"[^>]*class="[^"]*gas-chip', html
    )
    assert len(chips) == 2, chips
    for href in chips:
        remaining = c.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert _matched(remaining) in {
            len(expected_rows(result.rows, VariantFilter.from_args({"where": w})))
            for w in ("qual>=30", "variant_class=SNV")
        }
    # the conditions in force are kept as hidden inputs, so a new one adds to them
    assert re.search(r'<input type="hidden" name="where" value="qual&gt;=30">', html)


@pytest.mark.parametrize(
    ("text", "problem_text"),
    [
        ("qual<abc", "needs a number"),
        ("genes>1", "a list"),
        ("nowhere=1", "unknown column 'nowhere'"),
        ("qual", "is not COLUMN OP VALUE"),
    ],
)
def test_a_bad_condition_names_where_and_the_problem(sign_in, client, web_aws, result, text, problem_text):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    job = store_result(web_aws, user_id, result)
    page = c.get(f"/annotations/{job.job_id}/variants?{urlencode({'where': text})}")
    body = page.get_data(as_text=True)
    assert page.status_code == 400 and 'data-parameter="where"' in body and problem_text in body.replace("&#39;", "'")
    export = c.get(f"/annotations/{job.job_id}/variants.tsv?{urlencode({'where': text})}")
    assert export.status_code == 400
    api = client.get(f"/api/v1/jobs/{job.job_id}/variants?{urlencode({'where': text})}", headers=bearer(token))
    errors = problem(api, 422, "validation")["errors"]
    assert [e["field"] for e in errors] == ["query.where"] and problem_text in errors[0]["message"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("where_value=3", "where_column"), ("where_column=qual&where_op=~&where_value=3", "where_op")],
)
def test_the_forms_condition_names_its_bad_field(sign_in, web_aws, result, query, parameter):
    """The form's triple is the page's only (the API takes where= alone: 422 for the others)."""
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    page = c.get(f"/annotations/{job.job_id}/variants?{query}")
    assert page.status_code == 400 and f'data-parameter="{parameter}"' in page.get_data(as_text=True)


def test_the_parser_is_strict_and_canonical():
    f = VariantFilter.from_args({"where": ["AF < 0.01", "CLNSIG = 'Likely pathogenic'", "impact in HIGH, LOW"]})
    assert [c.text for c in f.where] == ["af<0.01", "clnsig=Likely pathogenic", "impact in HIGH,LOW"]
    assert VariantFilter.from_args({"where": [c.text for c in f.where]}) == f
    for bad in ("af<1e999999", "af<nan", "af<inf", "af<0x10", "af<1_0", "af<١", "a\tb=1", "af in ,"):
        with pytest.raises(FilterError) as raised:
            VariantFilter.from_args({"where": bad})
        assert raised.value.parameter == "where", bad
