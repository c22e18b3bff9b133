"""Variant tables for the web tests: an annotated VCF and the Parquet table the engine
writes beside it (docs/annotation-engine.md: one row per record and ALT), generated
together so each row's `record` is its data line in the VCF, plus a reference filter in
plain Python to check the web's answers against."""

from __future__ import annotations

import io
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gas.annotator.engine import annotate_vcf, ensure_database
from gas.annotator.engine.database import default_db_dir
from gas.annotator.engine.parquet import SCHEMA  # the table the web reads is the one the engine writes
from gas.core.vocab import SEVERITY as ENGINE_SEVERITY
from gas.web.variants import FLAGS, REGIONS, VARIANT_CLASSES, VariantFilter, chrom_spellings

SEVERITY = [term for term, _ in ENGINE_SEVERITY]  # the reference sorts by the engine's own list

# Filter values the variant table refuses, each with the parameter the answer must name
# (the page's and the API's filters are one parser).
BAD_FILTERS = [
    ("gene=TP%2053", "gene"),
    ("region=nowhere", "region"),
    ("class=SNP", "class"),
    ("known=perhaps", "known"),
    ("flag=LOUD", "flag"),
    ("chrom=99", "chrom"),
    ("chrom=1&start=abc", "start"),
    ("chrom=1&start=500&end=100", "end"),
    ("start=5", "start"),
    # conditions on any column (where=) and the IMPACT filter
    ("where=qual%3Cabc", "where"),
    ("where=qual%3Dx", "where"),
    ("where=genes%3C3", "where"),
    ("where=nowhere%3D1", "where"),
    ("where=nonsense", "where"),
    ("where=record%3E1", "where"),
    ("where=" + "q" * 201, "where"),
    ("where=qual%3E1" + "&where=qual%3E1" * 10, "where"),
    ("impact=SEVERE", "impact"),
    ("sort=-genes", "sort"),
    ("sort=-nowhere", "sort"),
]
GENES = ["TP53", "TP53I3", "BRCA1", "BRCA2", "NBR2", "EGFR", "C1orf123", "KRAS", "ZNF717"]
TERMS = ["stop_gained", "missense_variant", "synonymous_variant", "intron_variant", "upstream_gene_variant"]
HEADER = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=GENE,Number=.,Type=String,Description="GENCODE genes">\n'
    "##GAS_annotation=<Database=GRCh37-v1>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


@dataclass
class Result:
    vcf: bytes
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)

    def parquet(self, row_group_rows: int = 1000) -> bytes:
        out = io.BytesIO()
        metadata = {b"gas.assembly": b"GRCh37", b"gas.database": b"GRCh37-v1", b"gas.engine_version": b"test"}
        writer = pq.ParquetWriter(out, SCHEMA.with_metadata(metadata))
        for start in range(0, len(self.rows), row_group_rows):
            chunk = self.rows[start : start + row_group_rows]
            writer.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA))
        writer.close()
        return out.getvalue()

    def engine_parquet(self, row_group_rows: int = 1000) -> bytes:
        """The table as the engine's own writer leaves it (gas.annotator.engine.parquet):
        with the footer's view of the whole table that the first open reads (decision 105)."""
        import tempfile
        from pathlib import Path

        from gas.annotator.engine.parquet import VariantsWriter

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "t.variants.parquet"
            metadata = {"gas.assembly": "GRCh37", "gas.database": "GRCh37-v1", "gas.engine_version": "test"}
            writer = VariantsWriter(path, metadata)
            for start in range(0, len(self.rows), row_group_rows):
                chunk = pa.Table.from_pylist(self.rows[start : start + row_group_rows], schema=SCHEMA)
                writer.write(chunk.combine_chunks().to_batches()[0], 0)  # rows carry their record
            writer.close()
            return path.read_bytes()

    def vcf_lines(self) -> list[str]:
        return [line for line in self.vcf.decode().splitlines() if not line.startswith("#")]


CSQ_HEADER = (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequences. Format: Allele|Consequence|SYMBOL|Feature">\n'
)


@dataclass
class EngineResult:
    """The engine's own output for a file, in the shape store_result() stores."""

    vcf: bytes
    table: bytes
    genotypes: bytes | None  # a file with samples only
    summary: dict[str, Any]
    annotated: Path
    parquet_path: Path

    def parquet(self) -> bytes:
        return self.table


def engine_result(vcf: Path, out: Path, **options: Any) -> EngineResult:
    """`vcf` annotated by the engine with GRCh37's genes-only database, as the annotator does."""
    result = annotate_vcf(vcf, out, ensure_database("GRCh37", default_db_dir()), **options)
    assert result.variants_parquet is not None
    return EngineResult(
        result.annotated_vcf.read_bytes(),
        result.variants_parquet.read_bytes(),
        result.genotypes_parquet.read_bytes() if result.genotypes_parquet else None,
        result.summary,
        result.annotated_vcf,
        result.variants_parquet,
    )


def make_result(
    records: int = 400, seed: int = 7, chr_prefix: bool = False, shuffled: bool = False, samples: int = 0
) -> Result:
    """`records` VCF records on chromosomes 1, 2, 17 and X, a few multi-allelic. With
    `samples`, a GT:DP column per sample (S1, S2, ...) and a CSQ entry per transcript."""
    rng = random.Random(seed)
    genotypes = ("0/0", "0/1", "1/1", "./.")
    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    positions = []
    for chrom in ("1", "2", "17", "X"):
        pos = 10_000
        for _ in range(records // 4):
            pos += rng.randint(1, 5000)
            positions.append((chrom, pos))
    if shuffled:
        rng.shuffle(positions)
    for record, (chrom, pos) in enumerate(positions):
        name = f"chr{chrom}" if chr_prefix else chrom
        ref = rng.choice("ACGT")
        alts = [rng.choice([b for b in "ACGT" if b != ref])]
        if rng.random() < 0.1:
            alts.append(ref + rng.choice("ACGT"))  # an insertion as a second ALT
        genes = rng.sample(GENES, rng.choice([0, 0, 1, 1, 1, 2]))
        region = "intergenic" if not genes else rng.choice(REGIONS[:-1])
        flags = [f for f in FLAGS if rng.random() < 0.2]
        qual = None if rng.random() < 0.1 else round(rng.uniform(1, 300), 2)
        ident = "." if rng.random() < 0.7 else f"rs{rng.randint(1, 10**8)}"
        filt = rng.choice(["PASS", "PASS", "LowQual"])
        info = f"GENE={','.join(genes)};REGION={region}" if genes else f"REGION={region}"
        qual_text = "." if qual is None else f"{qual:g}"
        line = f"{name}\t{pos}\t{ident}\t{ref}\t{','.join(alts)}\t{qual_text}\t{filt}\t{info}"
        if samples:
            line += "\tGT:DP" + "".join(f"\t{rng.choice(genotypes)}:{rng.randint(1, 60)}" for _ in range(samples))
        lines.append(line)
        for alt in alts:
            snv = len(alt) == 1
            known = ident != "." and rng.random() < 0.8
            terms = sorted(rng.sample(TERMS, rng.randint(1, 2)), key=TERMS.index) if genes else []
            rows.append(
                {
                    "record": record,
                    "chrom": name,
                    "pos": pos,
                    "id": None if ident == "." else ident,
                    "rsid": ident if known else None,
                    "known_source": (("database", "file", "both")[record % 3]) if known else None,
                    "ref": ref,
                    "alt": alt,
                    "qual": qual,
                    "filter": filt,
                    "genes": genes,
                    "gene_types": ["protein_coding"] * len(genes),
                    "region": region,
                    "nearest_gene": None if genes else rng.choice(GENES),
                    "nearest_distance": None if genes else rng.randint(1, 90_000),
                    "flags": flags,
                    "variant_class": "SNV" if snv else "INS",
                    "tstv": ("ts" if ref + alt in ("AG", "GA", "CT", "TC") else "tv") if snv else None,
                    "consequence": terms[0] if terms else None,
                    "consequences": terms,
                    # as the engine fills them (gas.core.phenotypes): TP53, BRCA1, ... are HPO genes
                    "diseases": list(context.diseases) if (context := _hpo().context(genes, "GRCh37")) else [],
                    "phenotype_count": context.phenotype_count if context else None,
                }
            )
            if samples:  # a transcript bundle's CSQ entries, one per gene here
                rows[-1]["transcript_consequences"] = [
                    f"{alt}|{t}|{g}|ENST{record:06d}{k}" for k, (g, t) in enumerate(zip(genes, terms, strict=False))
                ] or None
    header = HEADER
    if samples:
        names = "".join(f"\tS{i + 1}" for i in range(samples))
        header = HEADER.replace("#CHROM", CSQ_HEADER + "#CHROM").replace("\tINFO\n", f"\tINFO\tFORMAT{names}\n")
    vcf = (header + "\n".join(lines) + "\n").encode()
    summary = {
        "variants": {"read": len(lines), "written": len(lines), "position_only": 0},
        "regions": {r: sum(1 for row in rows if row["region"] == r) for r in REGIONS},
        "variant_classes": {c: sum(1 for row in rows if row["variant_class"] == c) for c in VARIANT_CLASSES},
        "tstv": {"ts": 3, "tv": 2, "ratio": 1.5},
        "known": sum(1 for row in rows if row["rsid"]),
        "novel": sum(1 for row in rows if not row["rsid"]),
        "known_sources": {k: sum(1 for row in rows if row["known_source"] == k) for k in ("database", "file", "both")},
        "flags": {f: sum(1 for row in rows if f in row["flags"]) for f in FLAGS},
        "contigs": {"1": 100, "2": 100, "17": 100, "X": 100},
        "top_genes": [{"gene": "TP53", "variants": 40}, {"gene": "BRCA1", "variants": 30}],
        "consequences": {"missense_variant": 50, "stop_gained": 3},
    }
    return Result(vcf=vcf, rows=rows, summary=summary)


def _hpo() -> Any:
    from gas.core.phenotypes import load

    return load()


def matches(row: dict[str, Any], f: VariantFilter) -> bool:
    """The filter, written plainly (the reference for the web's vectorised one)."""
    if f.genes:
        wanted = [g.upper() for g in f.genes]
        names = [g.upper() for g in row["genes"]]
        if not any(n == w or (w.endswith("*") and n.startswith(w[:-1])) for n in names for w in wanted):
            return False
    if f.regions and row["region"] not in f.regions:
        return False
    if f.classes and row["variant_class"] not in f.classes:
        return False
    if f.known and row["rsid"] is None:
        return False
    if f.known is False and (row["rsid"] is not None or not row["region"] or not row["variant_class"]):
        return False  # novel: an ALT annotated against the assembly, not symbolic, with no rsID
    if f.flags and not set(f.flags) & set(row["flags"]):
        return False
    if f.consequences and row["consequence"] not in f.consequences:
        return False
    # the rows' names are GRCh37's (the table's gas.assembly): joined to HPO's by id/alias too
    if f.phenotype is not None and not set(row["genes"]) & _hpo().names_for(
        _hpo().genes_for(f.phenotype) or (), "GRCh37"
    ):
        return False
    if f.disease_genes and not set(row["genes"]) & _hpo().names_for(_hpo().disease_gene_symbols, "GRCh37"):
        return False
    if f.chrom is not None:
        if row["chrom"] not in chrom_spellings(f.chrom):
            return False
        if f.start is not None and row["pos"] < f.start:
            return False
        if f.end is not None and row["pos"] > f.end:
            return False
    if f.impacts and row.get("impact") not in f.impacts:
        return False
    return all(condition_holds(row.get(c.column), c) for c in f.where)


def condition_holds(value: Any, c: Any) -> bool:
    """One where= condition, written plainly: a null matches nothing; a list matches =/in
    when any item does, != when none does."""
    if value is None or (isinstance(value, float) and value != value):
        return False
    if isinstance(value, list):
        hit = bool(set(value) & set(c.values))
        return not hit if c.op == "!=" else hit
    if isinstance(value, bool):
        hit = value == (c.values[0] in ("true", "1"))
        return not hit if c.op == "!=" else hit
    if isinstance(value, int | float):
        x = float(value)
        ops = {
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
        }
        if c.op == "in":
            return x in c.numbers
        return bool(ops[c.op](x, c.numbers[0]))
    hit = value in c.values
    return not hit if c.op == "!=" else hit


def expected_rows(rows: Iterable[dict[str, Any]], f: VariantFilter, sort: str = "position") -> list[dict[str, Any]]:
    kept = [r for r in rows if matches(r, f)]
    if sort == "gene":
        kept.sort(key=lambda r: (0, r["genes"][0]) if r["genes"] else (1, ""))  # stable: file order within
    elif sort == "consequence":  # most severe first (the engine's order), none last
        rank = {t: i for i, t in enumerate(SEVERITY)}
        kept.sort(key=lambda r: rank[r["consequence"]] if r["consequence"] else len(rank) + 1)
    elif sort != "position":  # a numeric column (qual, -qual, af, -af): no value last either way
        name, sign = sort.lstrip("-"), -1 if sort.startswith("-") else 1
        kept.sort(key=lambda r: (0, sign * r[name]) if r.get(name) is not None else (1, 0))
    return kept


def store_result(
    aws: Any, user_id: str, result: Result, name: str = "sample.vcf", table: bytes | None = None, **fields: Any
) -> Any:
    """A COMPLETED job of `user_id` whose input, annotated VCF, table (`table`, else
    result.parquet(): a table without the first page's view), log and summary are in the
    (moto) buckets, as the annotator leaves them; returns the Job."""
    import json

    from jobs_support import new_job, put_results

    from gas.core.job_record import JobStatus
    from gas.core.jobs import JobStore, new_job_id
    from gas.core.timeutil import utc_now_iso

    job_id = new_job_id()
    s3 = aws.client("s3")
    results, inputs = aws.names.results_bucket, aws.names.inputs_bucket
    prefix = f"{user_id}/{job_id}/{name.removesuffix('.vcf')}"
    objects = {
        "result_key": (f"{prefix}.annot.vcf", result.vcf),
        "variants_key": (f"{prefix}.variants.parquet", result.parquet() if table is None else table),
        "log_key": (f"{prefix}.count.log", b"variants_read\t400\n"),
        "summary_key": (f"{prefix}.summary.json", json.dumps(result.summary).encode()),
    }
    keys = put_results(s3, results, objects)
    input_key = f"inputs/{user_id}/{job_id}~{name}"
    etag = s3.put_object(Bucket=inputs, Key=input_key, Body=result.vcf)["ETag"]
    values: dict[str, Any] = {
        "job_id": job_id,
        "input_bucket": inputs,
        "input_key": input_key,
        "input_size": len(result.vcf),
        "input_etag": etag,
        "status": JobStatus.COMPLETED,
        "started_at": utc_now_iso(),
        "completed_at": utc_now_iso(),
        "result_bucket": results,
        "database_version": "GRCh37-v1",
        **keys,
        **fields,
    }
    job = new_job(user_id, name, **values)
    JobStore(aws).create(job)
    return job
