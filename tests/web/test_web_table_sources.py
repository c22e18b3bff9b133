"""The variant table of a job annotated with a transcript bundle and a deployment's own
sources (issues 24, 25 item 4, 26 item 4), differential against bcftools.

One real engine run: a generated bundle (tests/annotator/bundle_gen.py, built with
`gas-annotation-db build`) and ClinVar-like and gnomAD-like sources plus a BED over the
bundle's sequence (tests/annotator/test_sources.py's generators), `gas-annotate --db BUNDLE
--sources`; its annotated VCF and Parquet table are the job's results in moto. The page, the
API and the exports are asked `gnomad_af<0.01`, `clnsig=Pathogenic` and `impact=HIGH`, and
bcftools the same question, counting split alleles (`norm -m-`) as the table counts rows
(keyed by the input's record ID and its INFO/IDX, the ALT's index in the input record).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import pyarrow.parquet as pq
import pytest
from annotator import bundle_gen
from annotator.sources_gen import make_inputs, sources_file
from api_support import api_rows, bearer, create_token
from results_support import Result, store_result
from support import needs_bcftools
from werkzeug.serving import make_server

pytestmark = [needs_bcftools, pytest.mark.bcftools]
BIN = Path(sys.executable).parent  # gas-annotate, gas-annotation-db, gas


class Annotated(Result):
    """The engine's own files, stored as a job's results (store_result)."""

    def __init__(self, vcf: Path, parquet: Path, summary: Path):
        super().__init__(vcf.read_bytes(), pq.read_table(parquet).to_pylist(), json.loads(summary.read_text()))
        self._parquet = parquet.read_bytes()

    def parquet(self, row_group_rows: int = 1000) -> bytes:
        return self._parquet


def _run(*cmd: str | Path, stdin: bytes | None = None) -> bytes:
    done = subprocess.run([str(c) for c in cmd], input=stdin, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def annotated(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("table-sources")
    bundle = bundle_gen.generate(seed=5, contigs={"22": 200_000}, genes_per_contig=6)
    bundle_gen.write_fasta(bundle, tmp / "genome.fa")
    bundle_gen.write_gff3(bundle, tmp / "genes.gff3")
    files = make_inputs(tmp, seed=3, seq=bundle.seq("22"), n_sites=1500)
    spec = sources_file(tmp, files)
    db = tmp / "db"
    gff3, fasta = tmp / "genes.gff3", tmp / "genome.fa"
    _run(BIN / "gas-annotation-db", "build", "--name", "tablefilters", "--db-dir", db, "--gff3", gff3, "--fasta", fasta)
    out = tmp / "out"
    _run(BIN / "gas-annotate", files["input"], "--db", "tablefilters", "--db-dir", db, "--sources", spec, "-o", out)
    result = Annotated(out / "input.annot.vcf", out / "input.variants.parquet", out / "input.summary.json")
    # bcftools' per-allele view of the same files
    norm_in = tmp / "input.norm.vcf.gz"
    _run("bcftools", "norm", "-f", files["fasta"], "-m-", "-Oz", "-o", norm_in, files["input"])
    _run("tabix", "-f", "-p", "vcf", norm_in)
    clinvar = tmp / "clinvar.norm.vcf.gz"
    _run("bcftools", "norm", "-f", files["fasta"], "-m-", "-Oz", "-o", clinvar, files["clinvar"])
    _run("tabix", "-f", "-p", "vcf", clinvar)
    return {
        "result": result,
        "split": _run("bcftools", "norm", "-m-", "-Ov", out / "input.annot.vcf"),
        "clinvar_annotated": _run("bcftools", "annotate", "-a", clinvar, "-c", "INFO/CLNSIG", "-Ov", norm_in),
    }


def _bcftools(vcf_text: bytes, expression: str) -> list[tuple[str, int]]:
    """(input record ID, ALT index) of the split alleles `bcftools view -i` keeps, in file order."""
    kept = _run("bcftools", "view", "-i", expression, "-Ov", "-", stdin=vcf_text)
    lines = _run("bcftools", "query", "-f", "%ID\\t%INFO/IDX\\n", "-", stdin=kept).decode().splitlines()
    return [(line.split("\t")[0], int(line.split("\t")[1])) for line in lines]


def _keys(rows: list[dict]) -> list[tuple[str, int]]:
    """(record ID, ALT index) of table rows in the table's order (rows of a record are its ALTs in order)."""
    seen: dict[int, int] = defaultdict(int)
    out = []
    for r in rows:
        out.append((r["id"], seen[r["record"]]))
        seen[r["record"]] += 1
    return out


@pytest.fixture
def job(sign_in, client, web_aws, annotated):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    return c, token, store_result(web_aws, user_id, annotated["result"], name="input.vcf")


def test_af_and_clnsig_conditions_equal_bcftools(annotated, job, client):
    c, token, stored = job
    every = _keys(annotated["result"].rows)
    # gnomAD AF (Number=A): the annotated VCF, split, asked as bcftools asks it.
    want_af = _bcftools(annotated["split"], "INFO/GNOMAD_AF<0.01")
    got_af = api_rows(client, bearer(token), stored.job_id, [("where", "GNOMAD_AF < 0.01")])
    assert 0 < len(want_af) < len(every)
    lookup = dict(zip(every, annotated["result"].rows, strict=True))
    assert _keys_of(got_af, lookup) == want_af  # the same alleles, in the same (file) order
    # ClinVar's CLNSIG (Number=.): bcftools is asked per allele on the input split and
    # left-aligned, then annotated from the split ClinVar by allele, as the engine matches.
    want_sig = _bcftools(annotated["clinvar_annotated"], 'INFO/CLNSIG="Pathogenic"')
    got_sig = api_rows(client, bearer(token), stored.job_id, [("where", "clnsig=Pathogenic")])
    assert 0 < len(want_sig) < len(every)
    assert sorted(_keys_of(got_sig, lookup)) == sorted(want_sig)
    # Both at once: the intersection, on the page and in the CSV export.
    both = [("where", "gnomad_af<0.01"), ("where", "clnsig=Pathogenic")]
    want_both = set(want_af) & set(want_sig)
    page = c.get(f"/annotations/{stored.job_id}/variants?{urlencode(both)}").get_data(as_text=True)
    assert f'data-matched="{len(want_both)}"' in page
    export = c.get(f"/annotations/{stored.job_id}/variants.csv?{urlencode(both)}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export)))
    assert len(rows) == len(want_both), rows[0]
    assert all(r["clinvar.clnsig"] == "Pathogenic" for r in rows), rows[0]
    assert all(float(r["gnomad.gnomad_af"]) < 0.01 for r in rows)


def _keys_of(api_rows: list[dict], lookup: dict) -> list[tuple[str, int]]:
    """The API rows' (ID, ALT index), found by (record, ALT) in the table's rows."""
    by_record_alt = {(r["record"], r["alt"]): k for k, r in lookup.items()}
    return [by_record_alt[(r["record"], r["alt"])] for r in api_rows]


def test_impact_filter_equals_the_pick_impact_field(annotated, job, client):
    c, token, stored = job
    lookup = dict(zip(_keys(annotated["result"].rows), annotated["result"].rows, strict=True))
    page = c.get(f"/annotations/{stored.job_id}/variants").get_data(as_text=True)
    for impact in ("HIGH", "MODERATE", "LOW"):
        want = _bcftools(annotated["split"], f'INFO/PICK_IMPACT="{impact}"')
        assert want, impact
        got = api_rows(client, bearer(token), stored.job_id, [("impact", impact)])
        assert _keys_of(got, lookup) == want and {r["impact"] for r in got} == {impact}
        assert all(r["transcript"] and r["symbol"] for r in got)  # the picked consequence's columns
        # the same question as a condition; the form offers the IMPACTs present with their rows
        assert _keys_of(api_rows(client, bearer(token), stored.job_id, [("where", f"impact={impact}")]), lookup) == want
        assert f'id="f-impact-{impact}"' in page and f'{impact} <span class="text-muted small">{len(want):,}' in page
    several = api_rows(client, bearer(token), stored.job_id, [("impact", "HIGH,MODERATE")])
    assert {r["impact"] for r in several} == {"HIGH", "MODERATE"}


def test_source_columns_in_the_page_api_and_exports(annotated, job, client):
    c, token, stored = job
    resp = client.get(f"/api/v1/jobs/{stored.job_id}/variants?size=5", headers=bearer(token)).get_json()
    by_column = {s["column"]: s for s in resp["source_columns"]}
    assert by_column["gnomad_af"] == {
        "column": "gnomad_af",
        "source": "gnomad",
        "info_id": "GNOMAD_AF",
        "kind": "number",
    }
    assert by_column["clnsig"]["source"] == "clinvar" and by_column["in_panel"]["kind"] == "flag"
    assert set(resp["variants"][0]["sources"]) == set(by_column)
    tsv = c.get(f"/annotations/{stored.job_id}/variants.tsv").get_data(as_text=True)
    header = tsv.split("\n", 1)[0].split("\t")
    assert [h for h in header if "." in h] == [f"{s['source']}.{s['column']}" for s in resp["source_columns"]]
    assert {"impact", "symbol", "transcript", "hgvsc", "hgvsp"} <= set(header)
    html = c.get(f"/annotations/{stored.job_id}/variants").get_data(as_text=True)
    assert 'data-column="clnsig">CLNSIG <span class="text-muted small">(clinvar)</span>' in html
    assert 'id="sort-gnomad_af"' in html and '<th scope="col">HGVSp</th>' in html
    # a flag column takes true/false; a text column refuses <
    flagged = api_rows(client, bearer(token), stored.job_id, [("where", "in_panel=true")])
    assert flagged and all(r["sources"]["in_panel"] is True for r in flagged)
    bad = client.get(f"/api/v1/jobs/{stored.job_id}/variants?where=clnsig%3C1", headers=bearer(token))
    assert bad.status_code == 422 and "clnsig is text" in bad.get_json()["errors"][0]["message"]


@pytest.mark.parametrize("sort", ["gnomad_af", "-gnomad_af", "-clinvar_id"])
def test_a_source_column_sorts_as_pythons_sorted_nulls_last(annotated, job, client, sort):
    _, token, stored = job
    name = sort.lstrip("-")
    rows = annotated["result"].rows
    present = sorted((r for r in rows if r[name] is not None), key=lambda r: r[name], reverse=sort[0] == "-")
    want = [(r["record"], r["alt"]) for r in [*present, *(r for r in rows if r[name] is None)]]
    got = api_rows(client, bearer(token), stored.job_id, [("sort", sort)])
    assert [(r["record"], r["alt"]) for r in got] == want


def test_the_cli_asks_the_same_over_http(app, annotated, job, client, tmp_path):
    """`gas variants --where ... --tsv` against the app served over HTTP (werkzeug's server,
    a real socket): the sources' columns headed SOURCE.column, the rows the API gives."""
    _, token, stored = job
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "AWS_"))}
        env |= {"GAS_API_URL": f"http://127.0.0.1:{server.server_port}", "GAS_API_TOKEN": token}
        env["XDG_CONFIG_HOME"] = str(tmp_path)
        args = ["--where", "gnomad_af<0.01", "--where", "clnsig=Pathogenic", "--sort", "-gnomad_af", "--tsv"]
        done = subprocess.run(
            [str(BIN / "gas"), "variants", stored.job_id, *args], capture_output=True, text=True, env=env, timeout=120
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    names = header.split("\t")
    assert "gnomad.gnomad_af" in names and "clinvar.clnsig" in names and "impact" in names
    rows = [dict(zip(names, line.split("\t"), strict=True)) for line in lines]
    want = api_rows(
        client,
        bearer(token),
        stored.job_id,
        [("where", "gnomad_af<0.01"), ("where", "clnsig=Pathogenic"), ("sort", "-gnomad_af")],
    )
    assert [(int(r["pos"]), r["alt"], float(r["gnomad.gnomad_af"])) for r in rows] == [
        (v["pos"], v["alt"], v["sources"]["gnomad_af"]) for v in want
    ]
    assert want and all(r["clinvar.clnsig"] == "Pathogenic" for r in rows)


def test_the_first_open_shows_impacts_and_sources_from_storage(annotated, job):
    """The first open is served from the stored table (decision 105), without the local copy:
    the IMPACTs the engine counted, the sources' columns and their values are on it."""
    from test_web_first_open import _page, _pages

    c, _, stored = job
    storage, local = _pages(c, "storage"), _pages(c, "local_copy")
    html = _page(c, f"/annotations/{stored.job_id}/variants")
    assert _pages(c, "storage") == storage + 1 and _pages(c, "local_copy") == local
    counts = defaultdict(int)
    for r in annotated["result"].rows:
        counts[r["impact"]] += 1
    for impact in ("HIGH", "MODERATE", "LOW", "MODIFIER"):
        assert f'{impact} <span class="text-muted small">{counts[impact]:,}</span>' in html
    first = annotated["result"].rows[0]
    cell = f'data-column="gnomad_af">{first["gnomad_af"] if first["gnomad_af"] is not None else ""}</td>'
    assert cell in html and '<option value="gnomad_af">gnomad_af</option>' in html
