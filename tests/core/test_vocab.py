"""gas.core.vocab holds the engine and the web to one vocabulary.

The engine's side is read from what it writes: `gas-annotate` runs on a small bundle and on the
genes-only GRCh37 database, and its VCF header, INFO values and Parquet schema must be the
vocabulary's, no more and no fewer. The SO terms the engine's rules can produce are read from
its source (every term literal in effects.py and consequences.py): a rule naming a term the
vocabulary lacks, or a vocabulary term no rule produces, fails. The web's side: its filter
choices and columns are the vocabulary's. A table written today still opens in the viewer
after the columns the next releases add, and a table of a newer major version is refused.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from annotator import bundle_support
from support import BIN, ROOT, SAMPLES

from gas.core import vocab
from gas.core.vocab import TableSchemaError, check_table_schema

ENGINE = ROOT / "services/annotator/src/gas/annotator/engine"
# A table written by this release's engine (schema version 1): gas-annotate of a VCF of SNVs,
# insertions and deletions over tests/annotator/bundle_support.py's bundle. Kept as a file so
# that a later writer cannot quietly change what "a version-1 table" is.
V1_TABLE = Path(__file__).parent / "data/variants-table-v1.parquet"
_SO_TERM = re.compile(r"^[0-9A-Za-z_]+_(?:variant|lost|gained|retained|ablation|amplification|insertion|deletion)$")


# -- the engine writes the vocabulary ------------------------------------------------------
@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """Annotated VCF and Parquet of a bundle run and a genes-only (GRCh37) run."""
    tmp = tmp_path_factory.mktemp("vocab")
    inputs = bundle_support.write_inputs(tmp / "in")
    built = bundle_support.build("vocab", tmp / "db", "--gff3", inputs["gff3"], "--fasta", inputs["fasta"])
    assert built.returncode == 0, built.stderr
    lines = []
    seq = bundle_support.genome()
    for k, pos in enumerate(range(95, 770, 7)):
        ref = seq[pos - 1]
        alt = [next(b for b in "ACGT" if b != ref), ref + "GA", None][k % 3]
        if alt is None:  # a deletion of the next two bases
            ref, alt = seq[pos - 1 : pos + 2], ref
        lines.append(f"chr1\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t.\n")
    vcf = tmp / "b.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(lines))
    done = bundle_support.annotate(vcf, "vocab", tmp / "db", tmp / "bundle")
    assert done.returncode == 0, done.stderr
    genes = subprocess.run(
        [
            str(BIN / "gas-annotate"),
            str(SAMPLES / "premium_2.vcf"),
            "--allow-assembly-mismatch",
            "-o",
            str(tmp / "genes"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert genes.returncode == 0, genes.stderr
    return {
        "bundle_vcf": tmp / "bundle/b.annot.vcf",
        "bundle_table": tmp / "bundle/b.variants.parquet",
        "genes_vcf": tmp / "genes/premium_2.annot.vcf",
        "genes_table": tmp / "genes/premium_2.variants.parquet",
    }


def _info_ids(vcf: Path) -> list[str]:
    return [line[11:].split(",", 1)[0] for line in vcf.read_text().splitlines() if line.startswith("##INFO=<ID=")]


def _info_values(vcf: Path) -> dict[str, set[str]]:
    """Every value of every INFO key in the data lines (comma-separated values apart)."""
    found: dict[str, set[str]] = {}
    for line in vcf.read_text().splitlines():
        if line.startswith("#"):
            continue
        for item in line.split("\t")[7].split(";"):
            key, _, value = item.partition("=")
            found.setdefault(key, set()).update(value.split(",") if value else {""})
    return found


def test_the_vcf_header_declares_exactly_the_vocabularys_info_ids(written):
    theirs = _info_ids(SAMPLES / "premium_2.vcf")  # the input's own, kept before ours
    assert len(theirs) > 3 and not set(theirs) & {*vocab.INFO_IDS, *vocab.CSQ_INFO_IDS}
    assert _info_ids(written["genes_vcf"]) == [*theirs, *vocab.INFO_IDS]
    assert _info_ids(written["bundle_vcf"]) == [*vocab.INFO_IDS, *vocab.CSQ_INFO_IDS]
    csq_line = next(x for x in written["bundle_vcf"].read_text().splitlines() if x.startswith("##INFO=<ID=CSQ,"))
    assert csq_line.split("Format: ", 1)[1].rstrip('">').split("|") == list(vocab.CSQ_FIELDS)


def test_every_info_value_written_is_in_the_vocabulary(written):
    genes, bundle = _info_values(written["genes_vcf"]), _info_values(written["bundle_vcf"])
    for values in (genes, bundle):
        assert values.get("REGION", set()) <= set(vocab.REGIONS)
        assert values.get("VC", set()) - {"."} <= set(vocab.VARIANT_CLASSES)
        assert values.get("TSTV", set()) - {"."} <= set(vocab.TSTV)
        assert values.get("KNOWN_SOURCE", set()) - {"."} <= set(vocab.KNOWN_SOURCES)
        assert values.get("MOST_SEVERE", set()) <= set(vocab.GENE_LEVEL_TERMS)
        terms = {t for entry in values.get("CONSEQUENCE", set()) for t in entry.split("|")[3].split("&")}
        assert terms <= set(vocab.GENE_LEVEL_TERMS)
    # Every key written (less the input's own) is one of ours.
    assert set(vocab.CSQ_INFO_IDS) <= set(bundle) <= {*vocab.INFO_IDS, *vocab.CSQ_INFO_IDS}
    assert set(genes) - set(_info_ids(SAMPLES / "premium_2.vcf")) <= set(vocab.INFO_IDS)
    # The genes-only run holds every kind of value (a failure here means the sample no longer
    # exercises the check above, not that the engine is wrong).
    assert set(vocab.KNOWN_SOURCES) <= genes["KNOWN_SOURCE"] and {"CPG", "BLACKLIST"} <= set(genes)
    assert len(genes["REGION"]) >= 6 and len((genes["VC"] | bundle["VC"]) - {"."}) >= 3
    csq = [entry.split("|") for entry in bundle["CSQ"]]
    assert all(len(fields) == len(vocab.CSQ_FIELDS) for fields in csq)
    for fields in csq:
        terms = fields[1].split("&")
        assert set(terms) <= set(vocab.TERMS) and fields[2] == vocab.IMPACT[terms[0]]
    assert bundle["PICK_IMPACT"] - {"."} <= set(vocab.IMPACTS)


@pytest.mark.parametrize("table", ["genes_table", "bundle_table"])
def test_the_parquet_table_is_the_vocabularys(written, table):
    parquet = pq.ParquetFile(written[table])
    schema = parquet.schema_arrow
    want = []
    for c in vocab.TABLE_COLUMNS:
        item = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}[c.type]
        want.append((c.name, pa.list_(item) if c.list else item, c.nullable))
    assert [(f.name, f.type, f.nullable) for f in schema] == want
    row_group = parquet.metadata.row_group(0)
    dictionary = {  # leaf paths: "genes.list.element" is the column genes
        row_group.column(i).path_in_schema.split(".")[0]
        for i in range(row_group.num_columns)
        if any("DICTIONARY" in e for e in row_group.column(i).encodings)
    }
    assert dictionary == {c.name for c in vocab.TABLE_COLUMNS if c.categorical}
    assert schema.metadata[vocab.TABLE_SCHEMA_KEY.encode()] == vocab.TABLE_SCHEMA_VERSION.encode()
    assert check_table_schema(schema.metadata) == (1, 2)
    rows = parquet.read().to_pylist()
    # 1.2: the footer's view of the whole table, what the viewer's first page reads (decision 105)
    view = json.loads(parquet.metadata.metadata[vocab.TABLE_VIEW_KEY.encode()])
    assert view["rows"] == len(rows) > 0
    assert view["terms"] == dict(Counter(r["consequence"] for r in rows if r["consequence"] is not None))
    assert view["impacts"] == dict(Counter(r["impact"] for r in rows if r["impact"] is not None))
    assert bool(view["impacts"]) == (table == "bundle_table")
    keys = [(r["chrom"], r["pos"]) for r in rows]
    runs = [c for i, (c, _) in enumerate(keys) if i == 0 or keys[i - 1][0] != c]
    assert view["position_sorted"] == (
        len(runs) == len(set(runs)) and all(a[1] <= b[1] for a, b in itertools.pairwise(keys) if a[0] == b[0])
    )
    assert {r["region"] for r in rows} - {None} <= set(vocab.REGIONS)
    assert {r["variant_class"] for r in rows} - {None} <= set(vocab.VARIANT_CLASSES)
    assert {f for r in rows for f in r["flags"]} <= set(vocab.FLAGS)
    assert {r["known_source"] for r in rows} - {None} <= set(vocab.KNOWN_SOURCES)
    assert {t for r in rows for t in r["consequences"]} <= set(vocab.TERMS)
    for r in rows:
        assert r["consequences"] == sorted(r["consequences"], key=vocab.RANK.__getitem__)
    assert {r["impact"] for r in rows} - {None} <= set(vocab.IMPACTS)


def engine_terms(sources: list[str]) -> set[str]:
    """The SO terms named by string literals in these module sources."""
    found = set()
    for text in sources:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SO_TERM.match(node.value):
                found.add(node.value)
    return found


def _rule_sources() -> list[str]:
    return [(ENGINE / name).read_text() for name in ("effects.py", "consequences.py")]


def test_the_engines_rules_name_exactly_the_vocabularys_terms():
    terms = engine_terms(_rule_sources())
    assert terms - set(vocab.TERMS) == set(), "terms the engine writes that the vocabulary lacks"
    assert vocab.NOT_WRITTEN < set(vocab.TERMS) and not terms & vocab.NOT_WRITTEN
    assert set(vocab.TERMS) - vocab.NOT_WRITTEN - terms == set(), "vocabulary terms no rule of the engine produces"
    ranks = [vocab.RANK[t] for t in vocab.GENE_LEVEL_TERMS]
    assert ranks == sorted(ranks)  # the gene-level subset keeps the severity order
    assert set(vocab.IMPACT.values()) == set(vocab.IMPACTS)


def test_a_term_added_on_either_side_is_caught():
    sources = _rule_sources()
    planted = [sources[0] + '\nNEW = "feature_truncation_variant"\n', sources[1]]
    assert engine_terms(planted) - set(vocab.TERMS) == {"feature_truncation_variant"}
    removed = [s.replace('"synonymous_variant"', '"x"') for s in sources]
    assert set(vocab.TERMS) - vocab.NOT_WRITTEN - engine_terms(removed) == {"synonymous_variant"}


# -- the web reads the vocabulary ----------------------------------------------------------
def test_the_webs_choices_and_columns_are_the_vocabularys():
    from gas.web import variants as web

    assert web.REGIONS == tuple(reversed(vocab.REGIONS))  # most specific first on the page
    assert web.VARIANT_CLASSES == vocab.VARIANT_CLASSES
    assert web.FLAGS == vocab.FLAGS
    assert web.SEVERITY == vocab.TERMS
    assert set(web.COLUMNS) <= set(vocab.TABLE_COLUMN)
    assert web.LIST_COLUMNS == {c for c in web.COLUMNS if vocab.TABLE_COLUMN[c].list}


def test_a_version_1_table_opens_in_the_viewer_after_the_columns_later_releases_add(tmp_path):
    from gas.web import variants as web

    original = pq.read_table(V1_TABLE)
    assert original.schema.metadata[b"gas.table_schema"] == b"1" and original.num_rows > 100
    # What the next issues append (phenotypes, samples, a source's field), as a minor version.
    n = original.num_rows
    grown = (
        original.append_column("hpo", pa.array([["HP:0001250"] if i % 5 == 0 else [] for i in range(n)]))
        .append_column("samples", pa.array([[f"S{i % 3}"] for i in range(n)], pa.list_(pa.string())))
        .append_column("gnomad_af", pa.array([i / n if i % 2 else None for i in range(n)], pa.float64()))
    )
    grown = grown.replace_schema_metadata({**original.schema.metadata, b"gas.table_schema": b"1.1"})
    assert check_table_schema(grown.schema.metadata) == (1, 1)
    pq.write_table(grown, tmp_path / "grown.parquet", row_group_size=64)
    entry = tmp_path / "entry"
    entry.mkdir()
    web.build_local_copy(tmp_path / "grown.parquet", entry)
    from gas.web.variants import cache

    table = web.LocalTable(entry, cache._load_index(entry), cache._Lru(4))
    # a version-1 table has no gene and disease context: the viewer gives those columns null
    want = [{k: r.get(k) for k in (*web.COLUMNS, "record")} for r in original.to_pylist()]
    rows, total = table.page(web.VariantFilter(), web.PageRequest(size=web.MAX_PAGE_SIZE))
    assert [r.pop("row") for r in rows] == list(range(len(rows)))  # each page row's table row number
    assert total == n and rows == want
    genea = [r for r in want if "GENEA" in r["genes"]]
    rows, total = table.page(web.VariantFilter(genes=("GENEA",)), web.PageRequest(size=web.MAX_PAGE_SIZE))
    rows = [{k: v for k, v in r.items() if k != "row"} for r in rows]
    assert total == len(genea) > 0 and rows == genea
    rows, _ = table.page(web.VariantFilter(), web.PageRequest(size=10, sort="consequence"))
    assert [r["consequence"] for r in rows] == sorted(
        (r["consequence"] for r in want), key=lambda t: vocab.RANK.get(t, len(vocab.TERMS))
    )[:10]


# -- the schema version ------------------------------------------------------------------
def test_versions_this_release_reads_and_those_it_refuses():
    key = vocab.TABLE_SCHEMA_KEY
    assert check_table_schema({key.encode(): b"1"}) == (1, 0)
    assert check_table_schema({key: "1.4"}) == (1, 4)  # added columns: read, the new ones ignored
    assert check_table_schema({b"gas.assembly": b"GRCh37"}) == (1, 0)  # written before the key
    assert check_table_schema(None) == (1, 0)
    with pytest.raises(TableSchemaError, match=r"schema version 2\.0 is newer than this release reads \(1\.x\)"):
        check_table_schema({key.encode(): b"2.0"})
    for bad in (b"one", b"1.x", b"", b"-1", "\u0661".encode()):  # ASCII digits only
        with pytest.raises(TableSchemaError, match="is not MAJOR or MAJOR.MINOR"):
            check_table_schema({key.encode(): bad})


def test_the_vocabulary_imports_no_engine_and_no_arrow():
    """The web and the CLI import it: standard library only."""
    code = (
        "import sys, gas.core.vocab\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('numpy', 'pyarrow') or m.startswith('gas.annotator')))"
    )
    done = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
