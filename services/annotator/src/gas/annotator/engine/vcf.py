"""Streaming, vectorised VCF annotation.

The input is read in blocks of whole lines; each block becomes a polars frame whose
columns are parsed and checked at once, looked up against the database with
``np.searchsorted`` and written back out. Memory is bounded by the block size, not the
input size.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time
import zlib
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from gas.annotator.engine.database import REGIONS, SCHEMA_VERSION, AnnotationDatabase

BLOCK_BYTES = 4 << 20
WORKERS = max(1, min(2, os.cpu_count() or 1))
_BASES = r"[ACGTNacgtn]+"
_ALLELE = rf"(?:{_BASES}|\*|<[^<>,]+>|[ACGTNacgtn]*[\[\]][^\[\],]+[\[\]][ACGTNacgtn]*|\.{_BASES}|{_BASES}\.)"
_ALT_RE = rf"^(?:\.|{_ALLELE}(?:,{_ALLELE})*)$"
_SEQ_RE = r"^[ACGTN]+$"
_TRANSITIONS = ["AG", "GA", "CT", "TC"]
_OUR_IDS = ("GENE", "GENE_TYPE", "REGION", "NEAREST", "RSID", "CPG", "REPEAT", "BLACKLIST", "VC", "TSTV")
_OUR_KEY_RE = rf"^(?:{'|'.join(_OUR_IDS)})(?:=|$)"
# A header line declaring one of our INFO keys (dropped when re-annotating).
_OUR_INFO_RE = re.compile(rf"^##INFO=<ID=({'|'.join(_OUR_IDS)}),")
_FIXED = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]

INFO_HEADER = [
    '##INFO=<ID=GENE,Number=.,Type=String,Description="GENCODE genes overlapping the REF span">',
    '##INFO=<ID=GENE_TYPE,Number=.,Type=String,Description="GENCODE gene_type of each GENE, same order">',
    '##INFO=<ID=REGION,Number=1,Type=String,Description="Most specific region: start_codon, stop_codon, CDS, UTR, '
    'exon (non-coding), intron, upstream (5 kb of a TSS, strand-aware), downstream (5 kb after a TES), intergenic">',
    "##INFO=<ID=NEAREST,Number=1,Type=String,"
    'Description="Nearest gene and distance in bases as gene|distance, intergenic only">',
    '##INFO=<ID=RSID,Number=A,Type=String,Description="Known common variant ID with the same position, REF and ALT">',
    '##INFO=<ID=CPG,Number=0,Type=Flag,Description="Overlaps a CpG island">',
    '##INFO=<ID=REPEAT,Number=0,Type=Flag,Description="Overlaps a RepeatMasker repeat">',
    '##INFO=<ID=BLACKLIST,Number=0,Type=Flag,Description="Overlaps an ENCODE blacklist v2 region">',
    '##INFO=<ID=VC,Number=A,Type=String,Description="Variant class per ALT: SNV, MNV, INS, DEL, DELINS">',
    '##INFO=<ID=TSTV,Number=A,Type=String,Description="ts (transition) or tv (transversion) per SNV ALT">',
]


class VcfFormatError(ValueError):
    """Bad input; str() is one line 'line N: what is wrong'."""

    def __init__(self, message: str, line_number: int):
        self.message = message
        self.line_number = line_number
        super().__init__(f"line {line_number}: {message}")


@dataclass
class AnnotationResult:
    annotated_vcf: Path
    count_log: Path
    summary_json: Path
    summary: dict
    variants_read: int
    variants_written: int
    variants_skipped: int


def output_stem(path: Path) -> str:
    name = path.name
    for suffix in (".vcf.gz", ".vcf.bgz", ".vcf", ".gz", ".bgz"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# ---------------------------------------------------------------- reading


class _Reader:
    """Yields (first_line_number, [lines]) blocks of text lines from plain/gzip/bgzip input."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as f:
            head = f.read(18)
        if not head:
            raise VcfFormatError("the file is empty", 1)
        self.compression = "plain"
        if head[:2] == b"\x1f\x8b":
            # BGZF is gzip with a 'BC' extra field; gzip reads its concatenated members.
            self.compression = "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"
        self.lines_seen = 0

    def blocks(self):
        opener = gzip.open if self.compression != "plain" else open
        rest = b""
        with opener(self.path, "rb") as fh:
            while True:
                try:
                    block = fh.read(BLOCK_BYTES)
                except EOFError:
                    raise VcfFormatError(
                        "compressed input ends early (truncated gzip file)", self.lines_seen + rest.count(b"\n") + 1
                    ) from None
                except (gzip.BadGzipFile, zlib.error, OSError) as exc:
                    raise VcfFormatError(f"cannot decompress input ({exc})", self.lines_seen + 1) from None
                if not block:
                    break
                block = rest + block
                cut = block.rfind(b"\n")
                if cut < 0:
                    rest = block
                    continue
                rest = block[cut + 1 :]
                yield self._decode(block[:cut])
        if rest:
            yield self._decode(rest)

    def _decode(self, raw: bytes):
        first = self.lines_seen + 1
        if b"\x00" in raw:
            raise VcfFormatError(
                "binary data (NUL byte), not a text VCF", first + raw[: raw.index(b"\x00")].count(b"\n")
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VcfFormatError(
                "binary data (not UTF-8 text), not a text VCF", first + raw[: exc.start].count(b"\n")
            ) from None
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        self.lines_seen += len(lines)
        return first, lines


# ---------------------------------------------------------------- annotation of one block


class _Stats:
    def __init__(self, db: AnnotationDatabase):
        self.read = 0
        self.no_seq_alt = 0
        self.blank = 0
        self.multiallelic = 0
        self.symbolic_alleles = 0
        self.regions = np.zeros(len(REGIONS), dtype=np.int64)
        self.vc: Counter = Counter()
        self.tstv: Counter = Counter()
        self.known = 0
        self.novel = 0
        self.gene_sets = np.zeros(len(db.gene_set_list), dtype=np.int64)
        self.genes: Counter = Counter()
        self.contigs: Counter = Counter()
        self.flags: Counter = Counter()

    def add(self, other: _Stats) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            else:
                setattr(self, name, mine + value)


class _Annotator:
    def __init__(self, db: AnnotationDatabase):
        self.db = db
        self.strip_ours = False
        a = db.arrays
        self.a = a
        self.gene_sets = db.gene_set_list
        self.gene_set_types = db.gene_set_type_list
        self.region_names = pl.Series(list(REGIONS), dtype=pl.String)
        self.alias_keys = list(db.alias)
        self.alias_vals = [db.alias[k] for k in self.alias_keys]
        self.gene_names = pl.Series(a["gene_name"].tolist(), dtype=pl.String)
        self.gene_end_order = np.argsort(a["gene_end"], kind="stable")
        self.gene_end_sorted = a["gene_end"][self.gene_end_order]
        self.gene_start_order = np.argsort(a["gene_start"], kind="stable")
        self.gene_start_sorted = a["gene_start"][self.gene_start_order]

    def _check(self, f: pl.DataFrame, ln: np.ndarray, lines: list[str], idx: list[int] | None) -> pl.Series:
        """Validate a block; raise for the first bad line. Returns contig ids."""
        cid = f["field_0"].replace_strict(self.alias_keys, self.alias_vals, default=-1, return_dtype=pl.Int64)
        bad = f.select(
            few=pl.col("field_7").is_null(),
            pos=~pl.col("field_1").str.contains(r"^[0-9]+$"),
            ref=~pl.col("field_3").str.contains(r"^[ACGTNacgtn]+$"),
            alt=~pl.col("field_4").str.contains(_ALT_RE),
        ).with_columns(contig=(cid == -1))
        any_bad = bad.select(pl.any_horizontal(pl.all()).alias("x"))["x"]
        if not any_bad.any():
            return cid
        r = int(any_bad.arg_true()[0])
        row = bad.row(r, named=True)
        n = int(ln[r])
        line = lines[idx[r] if idx is not None else r]
        if row["few"]:
            raise VcfFormatError(f"expected at least 8 tab-separated columns, found {line.count(chr(9)) + 1}", n)
        if row["contig"]:
            raise VcfFormatError(f"unknown contig '{f['field_0'][r]}' for {self.db.assembly}", n)
        if row["pos"]:
            raise VcfFormatError(f"POS '{f['field_1'][r]}' is not a number", n)
        if row["ref"]:
            raise VcfFormatError(f"REF '{f['field_3'][r]}' is not an allele (A, C, G, T, N)", n)
        raise VcfFormatError(f"ALT '{f['field_4'][r]}' is not a list of alleles", n)

    def block(self, lines: list[str], first: int, stats: _Stats) -> pl.DataFrame | None:
        idx = None
        if "" in lines:
            idx = [k for k, line in enumerate(lines) if line]
            stats.blank += len(lines) - len(idx)
            lines_kept = [lines[k] for k in idx]
            ln = np.asarray(idx, dtype=np.int64) + first
        else:
            lines_kept = lines
            ln = np.arange(first, first + len(lines), dtype=np.int64)
        if not lines_kept:
            return None
        f = pl.Series("l", lines_kept, dtype=pl.String).str.splitn("\t", 9).struct.unnest()
        cid_s = self._check(f, ln, lines, idx)
        n = f.height
        stats.read += n
        a = self.a
        cid = cid_s.to_numpy()
        pos = f["field_1"].cast(pl.Int64, strict=False).fill_null(1 << 40).to_numpy()
        too_big = np.flatnonzero(pos >= 1 << 32)  # digits only, but may overflow the coordinate
        if too_big.size:
            raise VcfFormatError(f"POS '{f['field_1'][int(too_big[0])]}' is out of range", int(ln[too_big[0]]))
        rlen = f["field_3"].str.len_bytes().cast(pl.Int64).to_numpy()
        gs = a["contig_offsets"][cid] + np.maximum(pos, 1) - 1  # 0-based first base of REF
        ge = gs + rlen - 1  # 0-based last base of REF
        for c, k in zip(*np.unique(cid, return_counts=True), strict=True):
            stats.contigs[self.db.contig_name(int(c), "plain")] += int(k)

        # Genes: the segment of the first base, unioned with later segments for long REFs.
        gb = a["gene_bounds"]
        i0 = np.searchsorted(gb, gs, side="right") - 1
        i1 = np.searchsorted(gb, ge, side="right") - 1
        sid = a["gene_set_ids"][i0]
        gene = self.db.gene_sets.gather(sid)
        gtype = self.db.gene_set_types.gather(sid)
        multi = np.flatnonzero(i1 != i0)
        stats.gene_sets += np.bincount(sid[i1 == i0], minlength=stats.gene_sets.size)
        if multi.size:
            names_out, types_out = [], []
            for r in multi:
                pairs: dict[str, str] = {}
                for s in a["gene_set_ids"][i0[r] : i1[r] + 1]:
                    if s:
                        pairs.update(
                            (g, t)
                            for g, t in zip(
                                self.gene_sets[s].split(","), self.gene_set_types[s].split(","), strict=True
                            )
                            if g not in pairs
                        )
                names_out.append(",".join(pairs))
                types_out.append(",".join(pairs.values()))
                stats.genes.update(list(pairs))
            gene = gene.scatter(multi, names_out)
            gtype = gtype.scatter(multi, types_out)

        rb, rc = a["region_bounds"], a["region_codes"]
        j0 = np.searchsorted(rb, gs, side="right") - 1
        j1 = np.searchsorted(rb, ge, side="right") - 1
        code = rc[j0]
        for r in np.flatnonzero(j1 != j0):
            code[r] = rc[j0[r] : j1[r] + 1].max()
        stats.regions += np.bincount(code, minlength=len(REGIONS))

        flags = {}
        for key, tag in (("cpg", "CPG"), ("repeats", "REPEAT"), ("blacklist", "BLACKLIST")):
            st, en = a[f"{key}_start"], a[f"{key}_end"]
            k = np.searchsorted(st, ge, side="right") - 1
            hit = (k >= 0) & (en[np.maximum(k, 0)] > gs) if st.size else np.zeros(n, dtype=bool)
            flags[tag] = hit
            stats.flags[tag] += int(hit.sum())

        nearest = self._nearest(cid, gs, ge, code == 0)

        # Alleles: one row per ALT, joined to the known variants on (position, REF, ALT).
        alleles = (
            pl.DataFrame(
                {
                    "i": np.arange(n, dtype=np.int64),
                    "gpos": gs,
                    "ref": f["field_3"].str.to_uppercase(),
                    "alt": f["field_4"].str.to_uppercase().str.split(","),
                }
            )
            .explode("alt")
            .join(self.db.known, on=["gpos", "ref", "alt"], how="left", maintain_order="left")
        )
        rl, al = pl.col("ref").str.len_bytes(), pl.col("alt").str.len_bytes()
        seq = pl.col("alt").str.contains(_SEQ_RE)
        alleles = alleles.with_columns(
            seq=seq,
            vc=pl.when(~seq)
            .then(None)
            .when((rl == 1) & (al == 1))
            .then(pl.lit("SNV"))
            .when(rl == al)
            .then(pl.lit("MNV"))
            .when(
                (rl < al) & (pl.col("alt").str.starts_with(pl.col("ref")) | pl.col("alt").str.ends_with(pl.col("ref")))
            )
            .then(pl.lit("INS"))
            .when(
                (rl > al) & (pl.col("ref").str.starts_with(pl.col("alt")) | pl.col("ref").str.ends_with(pl.col("alt")))
            )
            .then(pl.lit("DEL"))
            .otherwise(pl.lit("DELINS")),
        ).with_columns(
            tstv=pl.when(pl.col("vc") == "SNV")
            .then(
                pl.when((pl.col("ref") + pl.col("alt")).is_in(_TRANSITIONS))
                .then(pl.lit("ts"))
                .when(pl.col("ref").is_in(["N"]) | pl.col("alt").is_in(["N"]))
                .then(None)
                .otherwise(pl.lit("tv"))
            )
            .otherwise(None)
        )
        for row in alleles.group_by("vc").len().iter_rows():
            if row[0] is not None:
                stats.vc[row[0]] += row[1]
        for row in alleles.group_by("tstv").len().iter_rows():
            if row[0] is not None:
                stats.tstv[row[0]] += row[1]
        counts = alleles.select(
            known=pl.col("rsid").is_not_null().sum(),
            seq=pl.col("seq").sum(),
            sym=(~pl.col("seq") & (pl.col("alt") != ".")).sum(),
        ).row(0)
        stats.known += counts[0]
        stats.novel += counts[1] - counts[0]
        stats.symbolic_alleles += counts[2]

        if alleles.height == n:  # no multi-allelic site in this block: one allele per row
            per_row = alleles.select("rsid", "vc", "tstv", "seq")
            any_seq = per_row["seq"]
        else:
            stats.multiallelic += alleles.height - n
            per_row = alleles.group_by("i", maintain_order=True).agg(
                pl.when(pl.col("rsid").is_not_null().any()).then(pl.col("rsid").fill_null(".").str.join(",")),
                pl.when(pl.col("vc").is_not_null().any()).then(pl.col("vc").fill_null(".").str.join(",")),
                pl.when(pl.col("tstv").is_not_null().any()).then(pl.col("tstv").fill_null(".").str.join(",")),
                pl.col("seq").any(),
            )
            any_seq = per_row["seq"]
        stats.no_seq_alt += int((~any_seq).sum())

        info_new = pl.concat_str(
            [
                pl.lit("GENE=") + pl.col("gene"),
                pl.lit("GENE_TYPE=") + pl.col("gtype"),
                pl.lit("REGION=") + pl.col("region"),
                pl.lit("NEAREST=") + pl.col("nearest"),
                pl.lit("RSID=") + pl.col("rsid"),
                pl.when(pl.col("CPG")).then(pl.lit("CPG")),
                pl.when(pl.col("REPEAT")).then(pl.lit("REPEAT")),
                pl.when(pl.col("BLACKLIST")).then(pl.lit("BLACKLIST")),
                pl.lit("VC=") + pl.col("vc"),
                pl.lit("TSTV=") + pl.col("tstv"),
            ],
            separator=";",
            ignore_nulls=True,
        )
        info_old = pl.col("field_7")
        if self.strip_ours:  # re-annotating: drop our old keys so none appears twice
            info_old = (
                info_old.str.split(";")
                .list.eval(pl.element().filter(~pl.element().str.contains(_OUR_KEY_RE)))
                .list.join(";")
            )
        rsid_id = pl.col("rsid").str.replace_all(",?\\.,?", ",").str.strip_chars(",").str.replace_all(",", ";")
        out = f.with_columns(
            gene=pl.when(gene != "").then(gene),
            gtype=pl.when(gtype != "").then(gtype),
            region=self.region_names.gather(code),
            nearest=nearest,
            rsid=per_row["rsid"],
            vc=per_row["vc"],
            tstv=per_row["tstv"],
            **{k: pl.Series(v) for k, v in flags.items()},
        ).select(
            pl.concat_str(
                [
                    pl.col("field_0"),
                    pl.col("field_1"),
                    pl.when((pl.col("field_2") == ".") & pl.col("rsid").is_not_null())
                    .then(rsid_id)
                    .otherwise(pl.col("field_2")),
                    pl.col("field_3"),
                    pl.col("field_4"),
                    pl.col("field_5"),
                    pl.col("field_6"),
                    pl.when(info_old.is_in([".", ""])).then(info_new).otherwise(info_old + ";" + info_new),
                    pl.col("field_8"),
                ],
                separator="\t",
                ignore_nulls=True,
            ).alias("line")
        )
        return out

    def _nearest(self, cid: np.ndarray, gs: np.ndarray, ge: np.ndarray, intergenic: np.ndarray) -> pl.Series:
        """'gene|distance' of the closest gene on the same contig, for intergenic rows only."""
        a = self.a
        big = np.iinfo(np.int64).max
        gcid = a["gene_contig"]
        # Left: last gene ending at or before gs; right: first gene starting after ge.
        kl = np.searchsorted(self.gene_end_sorted, gs, side="right") - 1
        kr = np.searchsorted(self.gene_start_sorted, ge, side="right")
        gl = self.gene_end_order[np.clip(kl, 0, None)]
        gr = self.gene_start_order[np.clip(kr, None, len(self.gene_start_order) - 1)]
        dl = np.where((kl >= 0) & (gcid[gl] == cid), gs - (a["gene_end"][gl] - 1), big)
        dr = np.where((kr < len(self.gene_start_order)) & (gcid[gr] == cid), a["gene_start"][gr] - ge, big)
        use_left = dl <= dr
        g = np.where(use_left, gl, gr)
        d = np.where(use_left, dl, dr)
        ok = intergenic & (d < big)
        frame = pl.DataFrame({"ok": ok, "g": g, "d": d})
        return frame.select(
            pl.when(pl.col("ok")).then(
                pl.lit(self.gene_names).gather(pl.col("g")) + pl.lit("|") + pl.col("d").cast(pl.String)
            )
        ).to_series()


# ---------------------------------------------------------------- the whole file


def _ordered(blocks, pending: deque, drain):
    """Pass blocks through; if reading fails, earlier blocks' errors (earlier lines) win."""
    try:
        yield from blocks
    except VcfFormatError:
        while pending:
            drain()
        raise


def _header_out(meta: list[str], chrom_line: str, db: AnnotationDatabase, style: str | None) -> str:
    kept = [m for m in meta if not _OUR_INFO_RE.match(m)]
    extra = list(INFO_HEADER)
    if style and not any(m.startswith("##contig=") for m in meta):
        names = db.arrays["contig_names"]
        for i in range(len(names)):
            extra.append(
                f"##contig=<ID={db.contig_name(i, style)},length={int(db.arrays['contig_lengths'][i])},"
                f"assembly={db.assembly}>"
            )
    extra.append(
        f"##GAS_annotation=<Database={db.version},SHA256={db.sha256},Source={db.manifest['source']['package']}-{db.manifest['source']['version']}>"
    )
    return "\n".join(kept + extra + [chrom_line]) + "\n"


def annotate_vcf(input_path: str | Path, out_dir: str | Path | None, db: AnnotationDatabase) -> AnnotationResult:
    started = time.perf_counter()
    input_path = Path(input_path)
    out_dir = Path(out_dir) if out_dir else input_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = output_stem(input_path)
    finals = {
        "vcf": out_dir / f"{stem}.annot.vcf",
        "log": out_dir / f"{stem}.count.log",
        "json": out_dir / f"{stem}.summary.json",
    }
    tmps = {k: p.with_name(f".{p.name}.{os.getpid()}.tmp") for k, p in finals.items()}
    try:
        result = _annotate(input_path, db, finals, tmps, started)
        for k in finals:
            os.replace(tmps[k], finals[k])
        return result
    finally:
        for p in tmps.values():
            if p.exists():
                p.unlink()


def _annotate(input_path: Path, db: AnnotationDatabase, finals: dict, tmps: dict, started: float) -> AnnotationResult:
    reader = _Reader(input_path)
    annot = _Annotator(db)
    stats = _Stats(db)
    meta: list[str] = []
    chrom_line = None
    header_lines = 0
    version = None
    written = 0
    # Blocks are annotated on WORKERS threads (numpy and polars release the GIL) and
    # written in input order; at most WORKERS + 1 blocks are in memory.
    pending: deque = deque()
    with open(tmps["vcf"], "wb") as out, ThreadPoolExecutor(max_workers=WORKERS) as pool:

        def drain() -> int:
            future, block_stats = pending.popleft()
            frame = future.result()  # re-raises this block's VcfFormatError, in line order
            stats.add(block_stats)
            if frame is None:
                return 0
            frame.write_csv(out, include_header=False, quote_style="never")
            return frame.height

        header_done = False
        for first, lines in _ordered(reader.blocks(), pending, drain):
            start = 0
            if chrom_line is None:
                for k, line in enumerate(lines):
                    n = first + k
                    if n == 1:
                        m = re.match(r"^##fileformat=VCFv(4\.[0-5])\s*$", line)
                        if not m:
                            if line.startswith("##fileformat="):
                                raise VcfFormatError(
                                    f"unsupported format '{line[13:]}' (VCFv4.0 to VCFv4.3 expected)", 1
                                )
                            raise VcfFormatError("no VCF header: the first line must be ##fileformat=VCFv4.x", 1)
                        version = m.group(1)
                        meta.append(line)
                    elif line.startswith("##"):
                        meta.append(line)
                    elif line.startswith("#"):
                        cols = line.split("\t")
                        if cols[:8] != _FIXED:
                            raise VcfFormatError(
                                "header line must start #CHROM POS ID REF ALT QUAL FILTER INFO, tab-separated", n
                            )
                        chrom_line = line
                        header_lines = n
                        start = k + 1
                        break
                    elif line:
                        raise VcfFormatError("data line before the #CHROM header line", n)
                if chrom_line is None:
                    continue
            data = lines[start:]
            if not header_done:
                style = None
                first_data = next((d for d in data if d), None)
                if first_data is not None:
                    style = "chr" if first_data.startswith("chr") else "plain"
                out.write(_header_out(meta, chrom_line, db, style).encode())
                annot.strip_ours = any(_OUR_INFO_RE.match(m) for m in meta)
                header_done = True
            if not data:
                continue
            block_stats = _Stats(db)
            pending.append((pool.submit(annot.block, data, first + start, block_stats), block_stats))
            while len(pending) > WORKERS:
                written += drain()
        while pending:
            written += drain()
        if chrom_line is None:
            if not meta:
                raise VcfFormatError("the file is empty", 1)
            raise VcfFormatError("no #CHROM header line", reader.lines_seen)
        if not header_done:
            out.write(_header_out(meta, chrom_line, db, None).encode())
    elapsed = time.perf_counter() - started

    genes = Counter(stats.genes)
    for s in np.flatnonzero(stats.gene_sets):
        for g in dict.fromkeys(annot.gene_sets[s].split(",")):
            if g:
                genes[g] += int(stats.gene_sets[s])
    ts, tv = stats.tstv.get("ts", 0), stats.tstv.get("tv", 0)
    summary = {
        "input": input_path.name,
        "assembly": db.assembly,
        "database": {"version": db.version, "sha256": db.sha256, "schema": SCHEMA_VERSION},
        "vcf_version": version,
        "compression": reader.compression,
        "variants": {"read": stats.read, "written": written, "skipped": stats.no_seq_alt},
        "regions": {name: int(c) for name, c in zip(REGIONS, stats.regions, strict=True)},
        "variant_classes": {k: stats.vc.get(k, 0) for k in ("SNV", "MNV", "INS", "DEL", "DELINS")},
        "tstv": {"ts": ts, "tv": tv, "ratio": round(ts / tv, 3) if tv else None},
        "known": stats.known,
        "novel": stats.novel,
        "flags": {k: stats.flags.get(k, 0) for k in ("CPG", "REPEAT", "BLACKLIST")},
        "multiallelic_extra_alleles": stats.multiallelic,
        "symbolic_alleles": stats.symbolic_alleles,
        "contigs": dict(stats.contigs),
        "top_genes": [{"gene": g, "variants": c} for g, c in sorted(genes.items(), key=lambda x: (-x[1], x[0]))[:20]],
        "seconds": round(elapsed, 3),
    }
    tmps["json"].write_text(json.dumps(summary, indent=2) + "\n")
    rate = stats.read / elapsed if elapsed > 0 else 0.0
    log = [
        f"input\t{input_path.name}\t{reader.compression}\tVCFv{version}",
        f"database\t{db.version}\tsha256={db.sha256}",
        f"header_lines\t{header_lines}",
        f"variants_read\t{stats.read}",
        f"variants_written\t{written}",
        f"variants_skipped\t{stats.no_seq_alt}\t"
        "no sequence ALT (symbolic, breakend, * or .): written, annotated by position only",
        f"blank_lines_skipped\t{stats.blank}",
        f"symbolic_alleles\t{stats.symbolic_alleles}",
        f"multiallelic_extra_alleles\t{stats.multiallelic}",
        f"known_alleles\t{stats.known}",
        f"novel_alleles\t{stats.novel}",
        *(f"region\t{name}\t{int(c)}" for name, c in zip(REGIONS, stats.regions, strict=True)),
        *(f"contig\t{c}\t{k}" for c, k in stats.contigs.items()),
        f"seconds\t{elapsed:.3f}",
        f"variants_per_second\t{rate:.0f}",
    ]
    tmps["log"].write_text("\n".join(log) + "\n")
    return AnnotationResult(
        annotated_vcf=finals["vcf"],
        count_log=finals["log"],
        summary_json=finals["json"],
        summary=summary,
        variants_read=stats.read,
        variants_written=written,
        variants_skipped=stats.no_seq_alt,
    )
