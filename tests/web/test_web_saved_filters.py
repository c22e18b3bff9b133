"""Saved named filters over HTTP (Flask test client, moto server's DynamoDB): save from a
job's variant table, list, apply on another job, delete; owner-only, CSRF, bounds."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from api_support import bearer, create_token, problem
from results_support import expected_rows, make_result, store_result
from web_support import csrf_token

from gas.web.saved_filters import MAX_FILTERS, MAX_NAME
from gas.web.variants import VariantFilter


@pytest.fixture(scope="module")
def result():
    return make_result(records=200, seed=5)


def _saved(page: str) -> list[tuple[str, str, str]]:
    """(filter id, href, name) of the saved filters a variant table lists."""
    found = re.findall(
        r'<a class="btn btn-sm [^"]*gas-saved-filter" href="([^"]*)" data-filter="([0-9a-f]+)"[^>]*>([^<]*)</a>', page
    )
    return [(fid, htmllib.unescape(href), htmllib.unescape(name)) for href, fid, name in found]  # fmt: skip


def _save(c, job_id: str, name: str, query: str, token: str | None = None):
    token = token or csrf_token(c, f"/annotations/{job_id}/variants?{query}")
    data = {"csrf_token": token, "name": name, "query": query, "next": f"/annotations/{job_id}/variants?{query}"}
    return c.post("/filters", data=data)


def test_save_list_apply_on_another_job_and_delete(sign_in, web_aws, result):
    c, user_id = sign_in()
    first = store_result(web_aws, user_id, result)
    second = store_result(web_aws, user_id, make_result(records=120, seed=9))
    page = c.get(f"/annotations/{first.job_id}/variants?gene=tp53&region=cds").get_data(as_text=True)
    # The table's form saves its filter in the parser's canonical form.
    assert 'name="query" value="gene=tp53&amp;region=CDS"' in page
    resp = _save(c, first.job_id, "  TP53   coding ", "gene=tp53&region=cds")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        f"/annotations/{first.job_id}/variants?gene=tp53&region=cds"
    )
    # Listed on every job's table, applied to that job.
    listed = _saved(c.get(f"/annotations/{second.job_id}/variants").get_data(as_text=True))
    assert [(href, name) for _, href, name in listed] == [
        (f"/annotations/{second.job_id}/variants?gene=tp53&region=CDS", "TP53 coding")
    ]
    applied = c.get(listed[0][1]).get_data(as_text=True)
    want = expected_rows(make_result(records=120, seed=9).rows, VariantFilter(genes=("tp53",), regions=("CDS",)))
    assert (
        want
        and f'data-matched="{len(want)}"' in applied
        and 'aria-current="true" title="gene=tp53&amp;region=CDS"' in applied
    )
    assert "TP53 coding" in c.get("/filters").get_data(as_text=True)
    # The same name (any case) replaces it; another name adds one.
    assert _save(c, first.job_id, "tp53 CODING", "gene=TP53&known=novel").status_code == 302
    assert _save(c, first.job_id, "Intronic", "region=intron").status_code == 302
    listed = _saved(c.get(f"/annotations/{first.job_id}/variants").get_data(as_text=True))
    assert [(name, href.split("?")[1]) for _, href, name in listed] == [
        ("Intronic", "region=intron"),
        ("tp53 CODING", "gene=TP53&known=novel"),
    ]
    # Delete: gone; again: 404.
    fid = listed[0][0]
    token = csrf_token(c, "/filters")
    assert c.post(f"/filters/{fid}/delete", data={"csrf_token": token}).status_code == 302
    assert [n for _, _, n in _saved(c.get(f"/annotations/{first.job_id}/variants").get_data(as_text=True))] == [
        "tp53 CODING"
    ]
    assert c.post(f"/filters/{fid}/delete", data={"csrf_token": token}).status_code == 404


def test_another_user_neither_sees_nor_deletes_them(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    assert _save(c, job.job_id, "mine", "known=novel").status_code == 302
    ((fid, _, _),) = _saved(c.get(f"/annotations/{job.job_id}/variants").get_data(as_text=True))
    other, other_id = sign_in()
    theirs = store_result(web_aws, other_id, result)
    assert _saved(other.get(f"/annotations/{theirs.job_id}/variants").get_data(as_text=True)) == []
    assert "mine" not in other.get("/filters").get_data(as_text=True)
    token = csrf_token(other, "/filters")
    assert other.post(f"/filters/{fid}/delete", data={"csrf_token": token}).status_code == 404
    assert len(_saved(c.get(f"/annotations/{job.job_id}/variants").get_data(as_text=True))) == 1


def test_csrf_bounds_and_bad_queries_are_refused_naming_the_parameter(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    no_token = c.post("/filters", data={"name": "x", "query": "known=novel"})
    assert no_token.status_code == 400 and "form expired" in no_token.get_data(as_text=True)
    token = csrf_token(c, "/filters")
    cases = [
        ("x" * (MAX_NAME + 1), "known=novel", "name", f"at most {MAX_NAME} characters"),
        ("   ", "known=novel", "name", "give the filter a name"),
        ("bad", "region=nowhere", "query", "region: unknown value"),
        ("bad", "chrom=1&start=9&end=2", "query", "end: must not be before start"),
        ("all", "size=20&sort=gene", "query", "keeps every row"),
        ("long", "gene=" + "A," * 1500, "query", "at most 2000 characters"),
    ]
    for name, query, parameter, says in cases:
        resp = _save(c, job.job_id, name, query, token)
        text = htmllib.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 400 and f"{parameter}: " in text and says in text, (name, query)
    # An outside `next` is never followed.
    resp = c.post(
        "/filters", data={"csrf_token": token, "name": "n", "query": "known=novel", "next": "https://evil.example/x"}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/filters")
    # At most MAX_FILTERS: the next one is refused, replacing one still works.
    for n in range(MAX_FILTERS - 1):
        assert _save(c, job.job_id, f"f{n}", f"chrom=1&start={n + 1}", token).status_code == 302
    refused = _save(c, job.job_id, "one more", "known=known", token)
    assert refused.status_code == 400 and f"at most {MAX_FILTERS} saved filters" in refused.get_data(as_text=True)
    assert _save(c, job.job_id, "f0", "known=known", token).status_code == 302
    assert len(_saved(c.get(f"/annotations/{job.job_id}/variants").get_data(as_text=True))) == MAX_FILTERS


def test_the_api_saves_lists_and_deletes_the_same_filters(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    auth = bearer(create_token(c))
    saved = c.post("/api/v1/filters", json={"name": "Novel TP53", "query": "gene=tp53&known=novel"}, headers=auth)
    assert saved.status_code == 201
    body = saved.get_json()
    assert body["name"] == "Novel TP53" and body["query"] == "gene=tp53&known=novel"
    # The web table lists it; the API's variants take its query as it is.
    assert [name for _, _, name in _saved(c.get(f"/annotations/{job.job_id}/variants").get_data(as_text=True))] == [
        "Novel TP53"
    ]
    page = c.get(f"/api/v1/jobs/{job.job_id}/variants?{body['query']}", headers=auth).get_json()
    assert page["matched"] == len(expected_rows(result.rows, VariantFilter(genes=("tp53",), known=False)))
    listed = c.get("/api/v1/filters", headers=auth).get_json()["filters"]
    assert [f["id"] for f in listed] == [body["id"]]
    bad = problem(c.post("/api/v1/filters", json={"name": "x", "query": "class=SNP"}, headers=auth), 422, "validation")
    assert bad["errors"][0]["field"] == "body.query" and "class" in bad["errors"][0]["message"]
    read_only = bearer(create_token(c, name="reader", scopes=("read",)))
    problem(
        c.post("/api/v1/filters", json={"name": "y", "query": "known=novel"}, headers=read_only),
        403,
        "insufficient-scope",
    )
    other, _ = sign_in()
    theirs = bearer(create_token(other))
    assert other.get("/api/v1/filters", headers=theirs).get_json()["filters"] == []
    problem(other.delete(f"/api/v1/filters/{body['id']}", headers=theirs), 404, "not-found")
    assert c.delete(f"/api/v1/filters/{body['id']}", headers=auth).status_code == 204
    assert c.get("/api/v1/filters", headers=auth).get_json()["filters"] == []


def test_concurrent_saves_never_pass_the_limit(web_aws):
    """Every write is conditional on the version it read: of five saves racing for the
    last free place, one wins, the others retry and are refused."""
    import threading
    import uuid

    from gas.web.saved_filters import SavedFilters, TooManyFilters

    store, user_id = SavedFilters(web_aws), f"local:{uuid.uuid4()}"
    for n in range(MAX_FILTERS - 1):
        store.save(user_id, f"f{n}", f"chrom=2&start={n + 1}")
    outcomes: list[str] = []
    barrier = threading.Barrier(5)

    def save(k: int) -> None:
        barrier.wait()
        try:
            store.save(user_id, f"racer {k}", f"chrom=3&start={k + 1}")
            outcomes.append("saved")
        except TooManyFilters:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 4 + ["saved"] and len(store.list(user_id)) == MAX_FILTERS
