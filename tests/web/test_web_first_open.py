"""The first open of a finished job's table (issue 26 item 5, decision 105): the page is
served from what the engine wrote into the Parquet footer and the first row group, read
with ranged GETs from S3 (moto server over HTTP) by a web app that has never seen the job;
the local copy is built in the background afterwards. Which path answered is read from the
app's metrics (gas_web_table_pages_total by source, gas_web_table_storage_read_bytes_total),
not from timings."""

from __future__ import annotations

import io
import re
import time

import pyarrow.parquet as pq
import pytest
from results_support import expected_rows, make_result, store_result

from gas.core import vocab
from gas.web.variants import VariantFilter


@pytest.fixture(scope="module")
def result():
    return make_result(records=4000, seed=26)


def _metric(client, name: str) -> float:
    """A counter as the app's /metrics says it (what an SRE reads)."""
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", client.get("/metrics").get_data(as_text=True), re.M)
    assert found, name
    return float(found.group(1))


def _pages(client, source: str) -> float:
    return _metric(client, f'gas_web_table_pages_total{{source="{source}"}}')


def _storage_bytes(client) -> float:
    return _metric(client, "gas_web_table_storage_read_bytes_total")


def _page(client, url: str) -> str:
    """A page's HTML; the response closed, as a WSGI server closes it after sending (the
    local copy's build starts then)."""
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    html = resp.get_data(as_text=True)
    resp.close()
    return html


def _records(html: str) -> list[int]:
    return [int(r) for r in re.findall(r'<tr data-record="(\d+)">', html)]


def _table_part(html: str) -> str:
    """The page without what differs between two renders of the same data (CSRF tokens)."""
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*"\s+name="csrf_token"', "", html)


def _wait_for_local_copy(app, job, timeout: float = 60.0) -> None:
    store = app.extensions["gas"].variants
    bucket = job.result_bucket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.cache.ready(job, store.cache.head(store.s3, bucket, job)):
            return
        time.sleep(0.1)
    raise AssertionError("the local copy was not built in the background")


def test_the_first_open_reads_the_engines_footer_and_first_row_group_not_the_table(app, sign_in, web_aws, result):
    table = result.engine_parquet(row_group_rows=250)
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, table=table)
    storage, local, read = _pages(c, "storage"), _pages(c, "local_copy"), _storage_bytes(c)

    resp = c.get(f"/annotations/{job.job_id}/variants")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    store = app.extensions["gas"].variants
    # Nothing on the request built the local copy (the page's rows, counts and form choices
    # came from the footer); its build starts once the response is closed, as a server does.
    assert not store.cache.ready(job, store.cache.head(store.s3, job.result_bucket, job))
    resp.close()
    want = expected_rows(result.rows, VariantFilter())
    assert _records(html) == [r["record"] for r in want[:50]]
    assert f'Showing <strong>1–50</strong> of <strong id="matched">{len(result.rows):,}</strong>' in html
    assert _pages(c, "storage") == storage + 1 and _pages(c, "local_copy") == local
    # Read: pyarrow's footer read (the file's last 64 KiB, or the footer when longer) and the
    # first row group's columns; not the table.
    meta = pq.read_metadata(io.BytesIO(table))
    first_group = sum(meta.row_group(0).column(i).total_compressed_size for i in range(meta.num_columns))
    fetched = _storage_bytes(c) - read
    assert first_group < fetched <= max(64 << 10, meta.serialized_size + 8) + first_group, (fetched, first_group)
    assert fetched < len(table) / 2

    # A deeper unfiltered page (row groups 4-5) too, before the local copy is there or after.
    deep = _page(c, f"/annotations/{job.job_id}/variants?offset=1190&size=100")
    assert _records(deep) == [r["record"] for r in want[1190:1290]]

    # The local copy is built in the background; the same pages from it are the same pages,
    # and what needs it (a filter) is served from it.
    _wait_for_local_copy(c.application, job)
    storage = _pages(c, "storage")
    again = _page(c, f"/annotations/{job.job_id}/variants")
    assert _pages(c, "storage") == storage
    assert _table_part(again) == _table_part(html)  # rows, counts, the terms offered, links
    filtered = _page(c, f"/annotations/{job.job_id}/variants?gene=TP53")
    tp53 = expected_rows(result.rows, VariantFilter(genes=("TP53",)))
    assert _records(filtered) == [r["record"] for r in tp53[:50]]
    assert _pages(c, "local_copy") >= 2


def test_the_engines_view_of_an_unsorted_file_says_so_as_the_local_copy_does(app, sign_in, web_aws):
    shuffled = make_result(records=600, seed=3, shuffled=True)
    table = shuffled.engine_parquet(row_group_rows=100)
    view = pq.read_metadata(io.BytesIO(table)).metadata[vocab.TABLE_VIEW_KEY.encode()]
    assert b'"position_sorted": false' in view
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, shuffled, table=table)
    storage = _pages(c, "storage")
    html = _page(c, f"/annotations/{job.job_id}/variants")
    assert _pages(c, "storage") == storage + 1
    _wait_for_local_copy(c.application, job)
    again = _page(c, f"/annotations/{job.job_id}/variants")
    assert _table_part(again) == _table_part(html)
    assert _records(html) == [r["record"] for r in shuffled.rows[:50]]


def test_a_table_written_before_the_view_opens_from_its_local_copy(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)  # result.parquet(): no TABLE_VIEW_KEY (schema 1.1)
    storage, local = _pages(c, "storage"), _pages(c, "local_copy")
    html = _page(c, f"/annotations/{job.job_id}/variants")
    assert _pages(c, "storage") == storage and _pages(c, "local_copy") == local + 1
    want = expected_rows(result.rows, VariantFilter())
    assert _records(html) == [r["record"] for r in want[:50]]


def test_a_new_worker_loads_what_the_first_table_page_needs_before_any_request(settings_factory):
    # gunicorn_conf.post_worker_init calls warm_up (not imported here: importing the config
    # sets PROMETHEUS_MULTIPROC_DIR for the whole test process).
    from gas.web.app import create_app, warm_up

    fresh = create_app(settings_factory())
    names = lambda: {key[1] for key in fresh.jinja_env.cache.keys()}  # noqa: E731
    assert "jobs/variants.html" not in names()
    warm_up(fresh)
    assert {"jobs/variants.html", "jobs/annotation.html"} <= names()


def test_a_table_page_asks_s3_for_the_tables_version_once(app, sign_in, web_aws, result):
    """A page HEADs the table once (its ETag names the local copy) and passes the answer to the
    query, the term counts and the form's columns, which do not ask again: each HEAD is a
    boto3 request's CPU in the worker (288f7d3's page made 2, main's 3)."""
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, table=result.engine_parquet(row_group_rows=250))
    _page(c, f"/annotations/{job.job_id}/variants")
    _wait_for_local_copy(app, job)
    calls: list[str] = []

    def record(model, **_kwargs) -> None:
        calls.append(model.name)

    events = app.extensions["gas"].variants.s3.meta.events
    events.register("before-call.s3", record)
    try:
        for query in ("", "?gene=TP53", "?offset=1000&sort=gene", "?region=nowhere"):
            calls.clear()
            resp = c.get(f"/annotations/{job.job_id}/variants{query}")
            assert resp.status_code == (400 if "nowhere" in query else 200), (query, resp.status_code)
            assert calls == ["HeadObject"], (query, calls)
    finally:
        events.unregister("before-call.s3", record)
