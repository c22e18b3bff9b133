"""The web reads the annotation vocabulary from gas.core.vocab and keeps no copy of its own.

tests/core/test_vocab.py holds the engine to the vocabulary; this holds the web: its term
lists are the vocabulary's objects, its columns the table's, and no string in its code,
templates or scripts is a term of the vocabulary (a term list or a term written into the
web is drift waiting to happen: the engine adds a term, the web does not know it). The
viewer refuses a table of a newer major schema version, on the page and in the API.
"""

from __future__ import annotations

import ast
import io
import re
import types
import typing
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from api_support import bearer, create_token, problem
from results_support import make_result, store_result

from gas.core import vocab
from gas.web import charts, variants
from gas.web.api_v1.models import Variant, VariantQuery

WEB = Path(variants.__file__).parents[1]  # services/web/src/gas/web
# The vocabulary's values: what the engine writes into INFO, the table and the summary.
VALUES = {
    "regions": vocab.REGIONS,
    "variant classes": vocab.VARIANT_CLASSES,
    "flags": vocab.FLAGS,
    "known sources": vocab.KNOWN_SOURCES,
    "SO terms": vocab.TERMS,
    "impacts": vocab.IMPACTS,
    "ts/tv": vocab.TSTV,
    "INFO ids": (*vocab.INFO_IDS, *vocab.CSQ_INFO_IDS, vocab.INPUT_CSQ_ID),
}
# Values that are also plain words of the web's own ("database": a job's database, "file":
# the upload's form field): a lone one is not a term; two of a set together are a term list.
WORDS = {"database", "file", "both"}
DISTINCT = {v for values in VALUES.values() for v in values} - WORDS
_SO_TERM = re.compile(r"^[0-9A-Za-z_]+_(?:variant|lost|gained|retained|ablation|amplification|insertion|deletion)$")
_QUOTED = re.compile(r"""(["'])([A-Za-z0-9_]+)\1""")


def _term(text: str) -> bool:
    return text in DISTINCT or bool(_SO_TERM.match(text))


def python_terms(source: str) -> list[str]:
    """Vocabulary terms written as string literals in Python source: any distinct term (or
    anything shaped like an SO term), and any tuple, list, set or dict of two or more values
    of one of the vocabulary's sets (a copied term list, plain words included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _term(node.value):
            found.append(node.value)
        elts = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict) and elts:
            strings = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            copied = set().union(*(strings & set(v) for v in VALUES.values() if len(strings & set(v)) >= 2))
            if copied:
                found.append(",".join(sorted(copied)))
    return found


def markup_terms(text: str) -> list[str]:
    """Quoted vocabulary terms in a template or script."""
    return [m.group(2) for m in _QUOTED.finditer(text) if _term(m.group(2))]


def test_no_vocabulary_term_is_written_into_the_web():
    found = {}
    for path in sorted(WEB.rglob("*.py")):
        if terms := python_terms(path.read_text()):
            found[str(path.relative_to(WEB))] = terms
    for path in sorted([*WEB.rglob("*.html"), *WEB.rglob("*.js")]):
        if terms := markup_terms(path.read_text()):
            found[str(path.relative_to(WEB))] = terms
    assert found == {}, "the web names these terms itself: read them from gas.core.vocab"


def test_a_term_the_web_grows_is_caught():
    """The check above on planted code: each kind of copy fails it, plain words do not."""
    assert python_terms('EXTRA = "feature_truncation_variant"') == ["feature_truncation_variant"]
    assert python_terms('if row["region"] == "intron": pass') == ["intron"]
    assert python_terms('KNOWN = ("database", "file", "both")') == ["both,database,file"]
    assert python_terms('LABELS = {"database": "db", "file": "rsID"}') == ["database,file"]
    assert sorted(python_terms('FLAGS = ("CPG", "REPEAT")')) == ["CPG", "CPG,REPEAT", "REPEAT"]
    assert python_terms('name = request.form.get("database") or form["file"]') == []
    assert markup_terms("{% if row.region == 'CDS' %}") == ["CDS"]
    assert markup_terms('<input type="file" name="file">') == []


def test_the_webs_term_lists_are_the_vocabularys_own():
    """Read, not copied: the same objects (the page lists regions most specific first)."""
    assert variants.VARIANT_CLASSES is vocab.VARIANT_CLASSES
    assert variants.FLAGS is vocab.FLAGS
    assert variants.SEVERITY is vocab.TERMS
    assert variants.REGIONS == tuple(reversed(vocab.REGIONS))
    assert list(charts._KNOWN_LABELS) == list(vocab.KNOWN_SOURCES) and list(charts._TSTV_LABELS) == list(vocab.TSTV)


_PYTHON = {"int64": int, "float64": float, "string": str}


def test_the_columns_and_the_apis_rows_are_the_tables():
    """Every column the web shows and exports is one of the table's, of its type; the API's
    row is exactly those columns and `record`."""
    assert set(variants.COLUMNS) <= set(vocab.TABLE_COLUMN) and "record" not in variants.COLUMNS
    assert variants.LIST_COLUMNS == {c for c in variants.COLUMNS if vocab.TABLE_COLUMN[c].list}
    # plus the deployment's source columns (`sources`, named by the table) and the genotypes of
    # the samples asked for (`show`), read from the genotypes file
    assert list(Variant.model_fields) == ["record", *variants.COLUMNS, "sources", "genotypes"]
    for name, field in Variant.model_fields.items():
        if name in ("sources", "genotypes"):
            continue
        column = vocab.TABLE_COLUMN[name]
        want = _PYTHON[column.type]
        kind = field.annotation
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
            (kind,) = (a for a in typing.get_args(kind) if a is not type(None))
        if column.list:
            assert typing.get_origin(kind) is list, name
            (kind,) = typing.get_args(kind)
        assert kind is want, name
    assert all(v in VariantQuery.model_fields["region"].description for v in vocab.REGIONS)
    assert all(v in Variant.model_fields["known_source"].description for v in vocab.KNOWN_SOURCES)


@pytest.fixture(scope="module")
def result():
    return make_result(records=120)


def test_the_filter_form_offers_every_term_and_the_export_has_every_column(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    html = c.get(f"/annotations/{job.job_id}/variants").get_data(as_text=True)
    for name, values in (("region", vocab.REGIONS), ("class", vocab.VARIANT_CLASSES), ("flag", vocab.FLAGS)):
        offered = re.findall(rf'name="{name}" value="([^"]+)"', html)
        assert sorted(offered) == sorted(values), name
    export = c.get(f"/annotations/{job.job_id}/variants.tsv")
    assert export.status_code == 200
    assert export.get_data(as_text=True).split("\n", 1)[0].split("\t") == [*variants.COLUMNS, *variants.PROVENANCE]


def test_a_table_of_a_newer_major_version_is_refused_on_the_page_and_in_the_api(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    table = pq.read_table(io.BytesIO(result.parquet()))
    newer = table.replace_schema_metadata({**table.schema.metadata, vocab.TABLE_SCHEMA_KEY.encode(): b"2.0"})
    out = io.BytesIO()
    pq.write_table(newer, out)
    web_aws.client("s3").put_object(Bucket=job.result_bucket, Key=job.variants_key, Body=out.getvalue())
    page = c.get(f"/annotations/{job.job_id}/variants")
    assert page.status_code == 409
    assert "schema version 2.0 is newer than this release reads" in page.get_data(as_text=True)
    assert c.get(f"/annotations/{job.job_id}/variants.csv").status_code == 409
    token = create_token(c)
    body = problem(c.get(f"/api/v1/jobs/{job.job_id}/variants", headers=bearer(token)), 409, "no-variant-table")
    assert body["reason"] == "no_table" and "newer than this release reads" in body["detail"]
    # The annotated VCF is still there to download.
    assert c.get(f"/annotations/{job.job_id}/download").status_code == 302
