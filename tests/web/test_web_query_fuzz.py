"""Query strings against every results, table and export page and every API route
(issue 22): hypothesis writes them, the Flask test client sends them; no answer is a 500.

The table's numbers are parsed by one function for the pages and the API
(`gas.web.variants.whole_number`); Unicode digits ('²', '①', '١٢') used to pass
str.isdigit() and then fail in int()."""

from __future__ import annotations

import itertools
from urllib.parse import quote

import pytest
from api_support import bearer, create_token
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from results_support import make_result, store_result
from web_support import csrf_token

from gas.web.app import create_app
from gas.web.variants import VariantFilter

_fuzz_users = itertools.count(1)
EXAMPLES = 12  # per route, besides the issue's own queries
PARAMETERS = [*VariantFilter.PARAMETERS, "sort", "size", "offset", "cursor", "limit", "format", "next", "back",
              "where_column", "where_op", "where_value"]  # fmt: skip
NUMBERS = ["start", "end", "size", "offset", "limit"]  # fuzzed more often
# Digits a parser may mistake for ASCII ones, and other near-numbers.
NUMBERISH = ["²", "①", "١٢", "߁", "𝟙", "1_000", " 5", "5 ", "+5", "-1", "0", "1e3", "0x10", "9" * 13, "１２"]
VALUES = st.one_of(
    st.sampled_from(NUMBERISH),
    st.sampled_from(NUMBERISH),
    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
    st.integers(-(10**15), 10**15).map(str),
    st.text(max_size=12),
)
# Valid values of the parameters, so that one fuzzed parameter is not hidden behind an
# earlier refusal of another: a few of these, one fuzzed parameter, maybe one of any name.
VALID = [("chrom", "1"), ("chrom", "chrX"), ("start", "100"), ("end", "5000000"), ("gene", "TP53"),
         ("gene", "BRCA*"), ("region", "CDS"), ("class", "SNV"), ("known", "novel"), ("flag", "CPG"),
         ("consequence", "missense_variant"), ("sort", "gene"), ("size", "20"), ("offset", "10"),
         ("limit", "5"), ("where", "qual>=30"), ("where", "variant_class in SNV,DEL"), ("impact", "HIGH"),
         ("sort", "-nearest_distance"), ("where", "genes!=TP53")]  # fmt: skip
# where= conditions from any column (the table's, unknown ones, odd spellings), any operator
# (and near-operators), any value: parsed strictly, never a 500.
WHERE = st.tuples(
    st.sampled_from(
        [
            "qual",
            "QUAL",
            "pos",
            "genes",
            "flags",
            "nearest_distance",
            "impact",
            "nowhere",
            "record",
            "_gene",
            "a.b",
            "",
            " qual",
        ]
    ),
    st.sampled_from(["<", "<=", ">", ">=", "=", "!=", " in ", "==", "=<", "~", " IN ", ""]),
    VALUES,
).map(lambda t: ("where", "".join(t)))
PAIRS = st.tuples(
    st.lists(st.sampled_from(VALID), max_size=4),
    st.one_of(st.tuples(st.one_of(st.sampled_from(NUMBERS), st.sampled_from(PARAMETERS)), VALUES), WHERE),
    st.lists(st.tuples(st.text(min_size=1, max_size=8), VALUES), max_size=1),
).map(lambda parts: [*parts[0], parts[1], *parts[2]])
# Raw bytes too: invalid UTF-8 once percent-decoded.
RAW = st.binary(max_size=6).map(lambda b: "".join(f"%{x:02X}" for x in b))

WEB_ROUTES = [
    "/annotations",
    "/annotations/{job}",
    "/annotations/{job}/variants",
    "/annotations/{job}/variants.tsv",
    "/annotations/{job}/variants.csv",
    "/annotations/{job}/variants.vcf",
    "/annotations/{job}/log",
    "/annotations/{job}/variants/0",  # a variant's detail (its `back=` link)
    "/api/annotations",
    "/api/annotations/{job}",
]
API_ROUTES = [
    "/api/v1/me",
    "/api/v1/databases",
    "/api/v1/jobs",
    "/api/v1/jobs/{job}",
    "/api/v1/jobs/{job}/log",
    "/api/v1/jobs/{job}/result",
    "/api/v1/jobs/{job}/variants",
]


@pytest.fixture(scope="module")
def fuzz(settings_factory, web_aws):
    """(client signed in, bearer headers, job id): a user with a completed job, on an app
    whose API rate limit the fuzzing does not reach."""
    app = create_app(settings_factory(api_rate_limit=1_000_000))
    client = app.test_client()
    n = next(_fuzz_users)
    token = csrf_token(client, "/auth/local")
    data = {"csrf_token": token, "name": f"Fuzz {n}", "email": f"fuzz{n}@example.org"}
    assert client.post("/auth/local", data=data).status_code == 302
    with client.session_transaction() as s:
        user_id = s["user_id"]
    job = store_result(web_aws, user_id, make_result(records=40))
    return client, bearer(create_token(client)), job.job_id


def _query(pairs: list[tuple[str, str]], raw: str) -> str:
    parts = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs]
    return "&".join([*parts, f"start={raw}"] if raw else parts)


def _send(client, path: str, query: str, headers: dict[str, str] | None = None) -> None:
    resp = client.get(f"{path}?{query}", headers=headers or {})
    body = resp.get_data()  # an export streams: any error in it surfaces here
    assert resp.status_code < 500, (path, query, resp.status_code, body[:300])


@pytest.mark.parametrize(
    ("route", "api"),
    [pytest.param(r, False, id=f"page {r}") for r in WEB_ROUTES]
    + [pytest.param(r, True, id=f"api {r}") for r in API_ROUTES],
)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=PAIRS, raw=RAW)
@example(pairs=[("chrom", "1"), ("start", "²")], raw="")
@example(pairs=[("size", "²"), ("offset", "²"), ("end", "①")], raw="")
@example(pairs=[("where", "qual<1e999"), ("sort", "-qual"), ("where", "pos in 1,²")], raw="")
def test_no_query_string_gives_a_500(fuzz, route, api, pairs, raw):
    """Pages with the session's cookie, the API with the bearer token as well."""
    client, headers, job = fuzz
    _send(client, route.format(job=job), _query(pairs, raw), headers if api else None)


@pytest.mark.parametrize(
    "query", ["chrom=1&start=%C2%B2", "size=%C2%B2", "offset=%C2%B2", "chrom=1&end=%E2%91%A0", "size=%D9%A1%D9%A2"]
)
def test_unicode_digits_are_a_bad_parameter(fuzz, query):
    """The issue's queries: 400 on the page (and its exports, for a filter), 422 on the
    API, naming the parameter."""
    client, headers, job = fuzz
    name = query.rsplit("&", 1)[-1].split("=")[0]
    for suffix in ("", ".tsv", ".vcf") if name in VariantFilter.PARAMETERS else ("",):
        resp = client.get(f"/annotations/{job}/variants{suffix}?{query}")
        assert resp.status_code == 400 and name in resp.get_data(as_text=True), suffix
    api = client.get(f"/api/v1/jobs/{job}/variants?{query}", headers=headers)
    assert api.status_code == 422 and api.get_json()["errors"][0]["field"] == f"query.{name}"
