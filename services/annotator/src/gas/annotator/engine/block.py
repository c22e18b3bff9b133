"""The gene-level stages of one block of VCF data lines, on numpy arrays over its bytes
(``BlockAnnotator``: the database's tables, loaded once, and one method per stage), the
records they read and what they find (``Annotated``). The order they run in, and the stages
after them, are ``stages.py``; the ALT alleles' stage is ``alleles.py``.

Records on contigs the database does not cover, or past a contig's end, are written with
VC/TSTV only ("outside the assembly").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gas.annotator.engine import consequences as csq
from gas.annotator.engine.alleles import Alleles, KnownVariants
from gas.annotator.engine.database import REGION_CODE, AnnotationDatabase
from gas.annotator.engine.reader import VcfFormatError
from gas.annotator.engine.textops import (
    IS_ALT_FAST,
    IS_BASE,
    UPPER,
    distinct,
    gather,
    key_of,
    lookup,
    offsets_of,
    ranges,
    reduce_groups,
    split_lines,
)
from gas.core.vocab import FLAGS, REGIONS, VARIANT_CLASSES

NEEDS_NAME = -2  # a contig key that the whole CHROM must confirm (BlockAnnotator.__init__)


@dataclass
class BlockStats:
    """The block's share of the summary; ``add`` merges blocks in order."""

    n_regions: int
    n_sets: int
    n_contigs: int
    read: int = 0
    blank: int = 0
    position_only: int = 0  # written, but with no sequence ALT: annotated by position only
    outside_assembly: int = 0  # written unannotated: contig not in the database, or POS past its end
    multiallelic_extra: int = 0
    symbolic_alleles: int = 0
    nonstandard_alleles: int = 0  # not a VCF 4.x ALT form (old-style 'X', ...): by position only
    known: int = 0  # from the database, the file's rsID (column 3) or both
    known_database: int = 0  # only the database knows it
    known_file: int = 0  # only the file's rsID says it is known
    known_both: int = 0
    novel: int = 0
    regions: np.ndarray = field(init=False)
    gene_sets: np.ndarray = field(init=False)
    contigs: np.ndarray = field(init=False)
    past_end: np.ndarray = field(init=False)
    max_pos: np.ndarray = field(init=False)
    most_severe: np.ndarray = field(init=False)
    vc: np.ndarray = field(init=False)
    tstv: np.ndarray = field(init=False)
    flags: np.ndarray = field(init=False)
    genes: Counter[str] = field(default_factory=Counter)
    other_contigs: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.regions = np.zeros(self.n_regions, dtype=np.int64)
        self.gene_sets = np.zeros(self.n_sets, dtype=np.int64)
        self.contigs = np.zeros(self.n_contigs, dtype=np.int64)
        self.past_end = np.zeros(self.n_contigs, dtype=np.int64)
        self.max_pos = np.zeros(self.n_contigs, dtype=np.int64)
        self.most_severe = np.zeros(len(csq.TERMS), dtype=np.int64)
        self.vc = np.zeros(len(VARIANT_CLASSES) + 1, dtype=np.int64)
        self.tstv = np.zeros(2, dtype=np.int64)
        self.flags = np.zeros(len(FLAGS), dtype=np.int64)

    def add(self, other: BlockStats) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if name == "max_pos":
                np.maximum(mine, value, out=mine)
            elif isinstance(mine, Counter):
                mine.update(value)
            elif isinstance(mine, np.ndarray):
                mine += value
            elif name not in ("n_regions", "n_sets", "n_contigs"):
                setattr(self, name, mine + value)


@dataclass
class BlockResult:
    vcf: Any  # the annotated lines (a buffer)
    records: int
    stats: BlockStats
    table: Any = None  # pyarrow.RecordBatch of the variants, when asked
    effects: Any = None  # effects.BlockEffects (REF checks) when the database is a bundle
    genotypes: Any = None  # genotypes.GenotypeBlock, when the file has samples and a table is written


@dataclass
class Lines:
    buf: np.ndarray
    start: np.ndarray  # data lines only (blank lines dropped)
    end: np.ndarray  # exclusive, CR stripped
    number: np.ndarray  # line numbers in the file
    blank: int
    # (9, n): field k of line i is bound[k, i] + 1 .. bound[k + 1, i] (row 0: the line start - 1)
    bound: np.ndarray
    chrom_key: np.ndarray  # CHROM as textops.key_of has it
    pos: np.ndarray  # POS, -1 when it is not a number

    def field(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        start = self.bound[k] + 1
        return start, self.bound[k + 1] - start


@dataclass
class Records:
    cid: np.ndarray  # contig index; -1: not in the database
    pos: np.ndarray  # 1-based POS
    gs: np.ndarray  # global 0-based first base of REF
    ge: np.ndarray  # global 0-based last base of REF
    annotated: np.ndarray  # on a database contig and within its length
    text: np.ndarray  # REF\tALT of every record, uppercased, concatenated
    text_raw: np.ndarray  # the same, as written
    ref_at: np.ndarray  # REF offset in text
    ref_len: np.ndarray
    alt_at: np.ndarray
    alt_len: np.ndarray
    slow_alt: np.ndarray  # ALT needs the per-record check (symbolic, breakend, '*', '.', or bad)
    ref_missing: np.ndarray  # REF is '.': no allele is a sequence change


@dataclass
class Consequences:
    """(ALT, gene, terms) rows ordered by ALT then gene (gene -1: intergenic), and the OR of
    the terms per ALT and per record."""

    allele: np.ndarray
    gene: np.ndarray
    terms: np.ndarray
    stop_rule: np.ndarray  # the entry's terms came from the stop codon rule (REF/ALT bases)
    allele_terms: np.ndarray
    record_terms: np.ndarray
    allele_ctx: np.ndarray  # context of an ALT changing bases of one segment, else -1


@dataclass
class Annotated:
    """Everything the stages found for one block; output.py turns it into text and rows."""

    lines: Lines
    rec: Records
    alleles: Alleles
    ctx: np.ndarray  # context at the first REF base
    gene_set: np.ndarray  # GENE set id per record
    multi_sets: dict[int, list[int]]  # records whose REF crosses segments: their gene rows
    region: np.ndarray  # REGIONS code per record, -1 outside the assembly
    flags: np.ndarray  # (n, 3) CPG, REPEAT, BLACKLIST
    nearest_gene: np.ndarray  # gene row, -1 none
    nearest_distance: np.ndarray
    csq: Consequences


class BlockAnnotator:
    """Everything that does not change between blocks: tables, the constant pool."""

    def __init__(self, db: AnnotationDatabase, strip_ours: bool = False, with_table: bool = False, samples: int = 0):
        self.db = db
        self.samples = samples  # the header's sample columns: every record must have them
        self.a = db.arrays
        self.strip_ours = strip_ours  # re-annotating: drop our old INFO keys
        self.with_table = with_table
        a = self.a
        self.n_contigs = len(db.contig_names)
        self.contig_lengths = a["contig_lengths"]
        self.contig_offsets = a["contig_offsets"]
        # A CHROM of up to 8 bytes is looked up by its bytes as a key (textops.key_of; the
        # compiled split gives longer ones key 0). When the database has longer names (a
        # bundle's scaffolds: chrUn_KI270302v1, NC_000001.11), key 0 is NEEDS_NAME: those
        # records are resolved by the whole name.
        keys: dict[int, int] = {}
        for alias, cid in db.alias.items():
            if len(alias.encode()) > 8:
                keys[0] = NEEDS_NAME
            else:
                keys[key_of(alias)] = cid
        self.alias_keys = np.array(sorted(keys), dtype=np.uint64)
        self.alias_cid = np.array([keys[k] for k in sorted(keys)], dtype=np.int64)
        self.gene_names = db.packed("gene_names")
        self._gene_name_cache: dict[int, str] = {}  # decoded on demand: 58k names cost ~20 ms at start
        self.type_names = db.packed("gene_type_names")
        self.gene_type = a["gene_type"]
        self.gene_sets = db.packed("gene_sets")
        self.set_member_offsets = a["gene_set_member_offsets"]
        self.set_members = a["gene_set_members"]
        self.known_variants = KnownVariants.of(db)
        self.known_id = db.packed("known_id")
        self.entry_bits = a["entry_bits"]  # with the derived bits (build.py)
        self.gene_by_end = a["gene_by_end"]
        self.gene_end_sorted = a["gene_end"][self.gene_by_end]
        self.gene_by_start = a["gene_by_start"]
        self.gene_start_sorted = a["gene_start"][self.gene_by_start]

    def gene_name(self, g: int) -> str:
        """Name of gene row ``g`` (only records whose REF crosses segments need one as text)."""
        name = self._gene_name_cache.get(g)
        if name is None:
            name = self._gene_name_cache[g] = self.gene_names[g]
        return name

    # ------------------------------------------------------------ the stages

    def split_lines(self, block: bytes, first_line: int) -> Lines:
        """Lines and columns (one compiled pass: ``textops.split_lines``); checks that the
        block is text and that every line has the 8 fixed columns."""
        b = np.frombuffer(block, dtype=np.uint8)
        split = split_lines(b)
        if split.nul_at >= 0:
            raise VcfFormatError(
                "binary data (NUL byte), not a text VCF", first_line + block.count(b"\n", 0, split.nul_at)
            )
        if split.high:
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = first_line + block.count(b"\n", 0, exc.start)
                raise VcfFormatError("binary data (not UTF-8 text), not a text VCF", line) from None
        if split.short_line >= 0:
            raise VcfFormatError(
                f"expected at least 8 tab-separated columns, found {split.short_tabs + 1}",
                first_line + split.short_line,
            )
        if self.samples:
            self._check_sample_columns(b, block, split.start, split.end, split.index + first_line)
        return Lines(
            b, split.start, split.end, split.index + first_line, split.blank, split.bound, split.chrom_key, split.pos
        )

    def _check_sample_columns(
        self, b: np.ndarray, block: bytes, start: np.ndarray, end: np.ndarray, number: np.ndarray
    ) -> None:
        """FORMAT and one column per sample on every line (fewer: bcftools' "Broken VCF record")."""
        tabs = np.flatnonzero(b == 9)
        count = np.searchsorted(tabs, end) - np.searchsorted(tabs, start)
        want = 8 + self.samples
        for r in np.flatnonzero(count < want).tolist():
            line = block[int(start[r]) : int(end[r])]
            found = len(line.rstrip(b"\t").split(b"\t")) - 9
            if found < self.samples:  # more columns: bcftools reads the header's samples, so do we
                raise VcfFormatError(
                    f"{max(found, 0)} sample column(s) where the header line names {self.samples}", int(number[r])
                )

    def parse_records(self, lines: Lines) -> Records:
        b = lines.buf
        key = lines.chrom_key
        k = np.searchsorted(self.alias_keys, key)
        k = np.minimum(k, self.alias_keys.size - 1)
        cid = np.where(self.alias_keys[k] == key, self.alias_cid[k], -1)
        for r in np.flatnonzero(cid == NEEDS_NAME).tolist():
            c_start, c_len = int(lines.bound[0, r]) + 1, int(lines.bound[1, r] - lines.bound[0, r]) - 1
            name = b[c_start : c_start + c_len].tobytes().decode("utf-8", "replace")
            cid[r] = self.db.alias.get(name, -1)
        pos = lines.pos
        pos_ok = pos >= 0
        r_start, r_len = lines.field(3)
        a_start, a_len = lines.field(4)
        # REF\tALT of every record in one small array: checks, classes and trimming work on it.
        text_raw = gather(b, r_start, a_start + a_len - r_start)
        span = a_start + a_len - r_start
        at = offsets_of(span)
        text = UPPER[text_raw]
        ref_at, alt_at = at, at + r_len + 1
        not_base = np.concatenate([[0], np.cumsum(~IS_BASE[text_raw], dtype=np.int64)])
        not_alt = np.concatenate([[0], np.cumsum(~IS_ALT_FAST[text_raw], dtype=np.int64)])
        bad_ref = (r_len == 0) | (not_base[ref_at + r_len] - not_base[ref_at] > 0)
        # REF '.' (unknown; structural variant callers write it): annotated by position only.
        ref_missing = (r_len == 1) & (text_raw[ref_at] == 46)
        bad_ref &= ~ref_missing
        slow_alt = (a_len == 0) | (not_alt[alt_at + a_len] - not_alt[alt_at] > 0)
        problems = np.flatnonzero(~pos_ok | bad_ref | (pos_ok & (pos >= 1 << 32)))
        if problems.size:
            r = int(problems[0])
            line = int(lines.number[r])
            if not pos_ok[r]:
                p_start, p_len = lines.field(1)
                value = lines.buf[p_start[r] : p_start[r] + p_len[r]].tobytes()
                if value.isdigit():  # more digits than the compiled scan reads (10)
                    raise VcfFormatError("POS (column 2) is out of range", line)
                raise VcfFormatError("POS (column 2) is not a number", line)
            if pos[r] >= 1 << 32:
                raise VcfFormatError("POS (column 2) is out of range", line)
            raise VcfFormatError("REF (column 4) is not an allele (A, C, G, T, N)", line)
        known = cid >= 0
        safe_cid = np.maximum(cid, 0)
        inside = known & (pos <= self.contig_lengths[safe_cid] + 1)  # POS = length + 1: a telomere
        gs = self.contig_offsets[safe_cid] + np.maximum(pos, 1) - 1
        ge = gs + r_len - 1
        return Records(cid, pos, gs, ge, inside, text, text_raw, ref_at, r_len, alt_at, a_len, slow_alt, ref_missing)

    def _segment(self, gpos: np.ndarray) -> np.ndarray:
        return lookup(self.a["ctx_bounds"], gpos) - 1

    def _union_sets(self, sets: np.ndarray) -> list[int]:
        """Members (gene rows) of several gene sets, one row per name, in gene order."""
        members: dict[str, int] = {}
        genes = sorted(
            {
                int(g)
                for s in sets.tolist()
                for g in self.set_members[self.set_member_offsets[s] : self.set_member_offsets[s + 1]]
            }
        )
        for g in genes:
            members.setdefault(self.gene_name(g), g)
        return list(members.values())

    def genes_and_regions(self, rec: Records) -> tuple[np.ndarray, np.ndarray, dict[int, list[int]], np.ndarray]:
        """GENE set (id) and REGION code over the REF span; records whose span crosses
        segments get their union in ``multi`` (record -> gene rows) and the max region."""
        a = self.a
        j0 = self._segment(rec.gs)
        j1 = j0.copy()
        longer = np.flatnonzero(rec.ref_len > 1)
        j1[longer] = self._segment(rec.ge[longer])
        ctx = a["ctx_of_segment"][j0]
        gene_set = a["ctx_gene_set"][ctx].astype(np.int64)
        region = a["ctx_region"][ctx].astype(np.int64)
        multi: dict[int, list[int]] = {}
        for r in np.flatnonzero((j1 != j0) & rec.annotated).tolist():
            ctxs = a["ctx_of_segment"][j0[r] : j1[r] + 1]
            region[r] = int(a["ctx_region"][ctxs].max())
            sets = distinct(a["ctx_gene_set"][ctxs])
            if sets.size > 1:
                multi[r] = self._union_sets(sets)
            else:
                gene_set[r] = int(sets[0])
        gene_set[~rec.annotated] = 0
        region[~rec.annotated] = -1
        return ctx, gene_set, multi, region

    def flags(self, rec: Records) -> np.ndarray:
        """(n, 3) bools: the REF span overlaps a CpG island / repeat / blacklist region."""
        out = np.zeros((rec.gs.size, len(FLAGS)), dtype=bool)
        for col, key in enumerate(("cpg", "repeats", "blacklist")):
            st, en = self.a[f"{key}_start"], self.a[f"{key}_end"]
            if not st.size:
                continue
            k = lookup(st, rec.ge) - 1
            out[:, col] = (k >= 0) & (en[np.maximum(k, 0)] > rec.gs)
        out[~rec.annotated] = False
        return out

    def nearest(self, rec: Records, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closest gene on the same contig (row, distance in bases) of records in no gene:
        intergenic, upstream and downstream (the table names the gene a flank belongs to; the
        VCF's NEAREST stays intergenic only, CONSEQUENCE names the flank's gene); -1 otherwise."""
        a = self.a
        rows = np.flatnonzero((region >= 0) & (region <= REGION_CODE["upstream"]))  # -1: outside the assembly
        gene = np.full(rec.gs.size, -1, dtype=np.int64)
        dist = np.full(rec.gs.size, -1, dtype=np.int64)
        if not rows.size:
            return gene, dist
        gs, ge, cid = rec.gs[rows], rec.ge[rows], rec.cid[rows]
        big = np.iinfo(np.int64).max
        gcid = a["gene_contig"]
        kl = lookup(self.gene_end_sorted, gs) - 1
        kr = lookup(self.gene_start_sorted, ge)
        gl = self.gene_by_end[np.clip(kl, 0, None)]
        gr = self.gene_by_start[np.clip(kr, None, self.gene_by_start.size - 1)]
        dl = np.where((kl >= 0) & (gcid[gl] == cid), gs - (a["gene_end"][gl] - 1), big)
        dr = np.where((kr < self.gene_by_start.size) & (gcid[gr] == cid), a["gene_start"][gr] - ge, big)
        left = dl <= dr
        g = np.where(left, gl, gr)
        d = np.where(left, dl, dr)
        ok = d < big
        gene[rows[ok]] = g[ok]
        dist[rows[ok]] = d[ok]
        return gene, dist

    def consequences(self, rec: Records, al: Alleles) -> Consequences:
        """(allele, gene, terms) rows, ordered by allele then gene; gene -1 = intergenic."""
        a = self.a
        live = np.flatnonzero(al.kind > 0)
        c0 = self._segment(al.first[live])
        c1 = c0.copy()
        wide = np.flatnonzero(al.last[live] != al.first[live])
        c1[wide] = self._segment(al.last[live][wide])
        single = c0 == c1
        offs = a["ctx_entry_offsets"]
        one = live[single]
        ctx = a["ctx_of_segment"][c0[single]]
        count = offs[ctx + 1] - offs[ctx]
        ent_allele = np.repeat(one, count)
        ent = ranges(offs[ctx], count)
        gene = a["entry_gene"][ent].astype(np.int64)
        any_bits = self.entry_bits[ent]
        all_bits = any_bits
        anchor = a["entry_anchor"][ent]
        # Changes spanning several segments: OR and AND of each gene's bits over them.
        if (~single).any():
            m_allele, m_gene, m_any, m_all, m_anchor = [], [], [], [], []
            for i, s0, s1 in zip(live[~single].tolist(), c0[~single].tolist(), c1[~single].tolist(), strict=True):
                per_gene: dict[int, list[int]] = {}
                ctxs = a["ctx_of_segment"][s0 : s1 + 1].tolist()
                for ci in ctxs:
                    for e in range(int(offs[ci]), int(offs[ci + 1])):
                        g = int(a["entry_gene"][e])
                        bits = int(self.entry_bits[e])
                        slot = per_gene.setdefault(g, [0, 0, 0, -2])
                        slot[0] |= bits
                        slot[1] += 1
                        slot[2] = bits if slot[1] == 1 else slot[2] & bits
                        anc = int(a["entry_anchor"][e])
                        if bits & csq.B["STOP"]:
                            slot[3] = anc if slot[3] in (-2, anc) else -1
                for g, (o, seen, al_bits, anc) in sorted(per_gene.items()):
                    m_allele.append(i)
                    m_gene.append(g)
                    m_any.append(o)
                    m_all.append(al_bits if seen == len(ctxs) else 0)  # absent from a segment: not all
                    m_anchor.append(anc if anc >= 0 else -1)
            ent_allele = np.concatenate([ent_allele, np.array(m_allele, dtype=np.int64)])
            gene = np.concatenate([gene, np.array(m_gene, dtype=np.int64)])
            any_bits = np.concatenate([any_bits, np.array(m_any, dtype=np.uint32)])
            all_bits = np.concatenate([all_bits, np.array(m_all, dtype=np.uint32)])
            anchor = np.concatenate([anchor, np.array(m_anchor, dtype=np.int64)])
            order = np.lexsort((gene, ent_allele))
            ent_allele, gene, any_bits, all_bits, anchor = (
                x[order] for x in (ent_allele, gene, any_bits, all_bits, anchor)
            )
        terms, stop_question = csq.terms_of(any_bits, all_bits, al.kind[ent_allele], al.delta[ent_allele])
        strand = a["gene_strand"]
        for e in np.flatnonzero(stop_question).tolist():
            i = int(ent_allele[e])
            n = int(al.trim_ref_len[i])
            ref = rec.text[al.trim_ref[i] : al.trim_ref[i] + n].tobytes().decode()
            alt = rec.text[al.trim_alt[i] : al.trim_alt[i] + n].tobytes().decode()
            terms[e] |= csq.stop_codon_term(int(strand[gene[e]]), int(anchor[e]), int(al.first[i]), ref, alt)
        keep = terms != 0
        ent_allele, gene, terms, stop_rule = ent_allele[keep], gene[keep], terms[keep], stop_question[keep]
        # Alleles with no gene within reach: one intergenic entry.
        has = np.zeros(al.kind.size, dtype=bool)
        has[ent_allele] = True
        lonely = live[~has[live]]
        if lonely.size:
            ent_allele = np.concatenate([ent_allele, lonely])
            gene = np.concatenate([gene, np.full(lonely.size, -1, dtype=np.int64)])
            terms = np.concatenate([terms, np.full(lonely.size, csq.INTERGENIC, dtype=np.uint32)])
            stop_rule = np.concatenate([stop_rule, np.zeros(lonely.size, dtype=bool)])
            order = np.argsort(ent_allele, kind="stable")
            ent_allele, gene, terms, stop_rule = ent_allele[order], gene[order], terms[order], stop_rule[order]
        allele_terms = reduce_groups(np.bitwise_or, terms, ent_allele, al.kind.size)
        record_terms = reduce_groups(np.bitwise_or, allele_terms, al.record, rec.gs.size)
        allele_ctx = np.full(al.kind.size, -1, dtype=np.int64)
        allele_ctx[one] = ctx
        return Consequences(ent_allele, gene, terms, stop_rule, allele_terms, record_terms, allele_ctx)

    # ------------------------------------------------------------ the summary

    def count(self, stats: BlockStats, found: Annotated) -> None:
        lines, rec, al = found.lines, found.rec, found.alleles
        n = rec.gs.size
        stats.read = n
        ann = rec.annotated
        stats.outside_assembly = int((~ann).sum())
        on_db = rec.cid >= 0
        # The charts' counts are table rows, one per ALT: a record counts once per ALT, so
        # each bar is the row count of the table its link opens (decision 113).
        rows = np.bincount(al.record, minlength=n)

        def per_row(keys: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
            return np.bincount(keys[keep], weights=rows[keep], minlength=size).astype(np.int64)

        stats.contigs += per_row(rec.cid, on_db, self.n_contigs)
        past = on_db & ~ann
        stats.past_end += np.bincount(rec.cid[past], minlength=self.n_contigs)
        order = np.argsort(rec.cid[on_db], kind="stable")  # a sorted VCF: already in order
        np.maximum(
            stats.max_pos,
            reduce_groups(np.maximum, rec.pos[on_db][order], rec.cid[on_db][order], self.n_contigs),
            out=stats.max_pos,
        )
        c_start, c_len = lines.field(0)
        for r in np.flatnonzero(~on_db).tolist():
            name = lines.buf[c_start[r] : c_start[r] + c_len[r]].tobytes().decode("utf-8", "replace")
            stats.other_contigs[name] += int(rows[r])
        stats.regions += per_row(found.region, ann, len(REGIONS))
        single = np.ones(n, dtype=bool)
        single[list(found.multi_sets)] = False
        stats.gene_sets += per_row(found.gene_set, single & ann, stats.gene_sets.size)
        for r, members in found.multi_sets.items():
            for g in members:
                stats.genes[self.gene_name(g)] += int(rows[r])
        stats.flags += rows @ found.flags.astype(np.int64)
        any_seq = np.zeros(n, dtype=bool)
        any_seq[al.record[al.seq]] = True
        stats.position_only = int((~any_seq).sum())
        stats.multiallelic_extra = int(al.record.size - n)
        stats.symbolic_alleles = int((~al.seq).sum()) - self._dots(rec, al) - al.nonstandard
        stats.nonstandard_alleles = al.nonstandard
        stats.vc += np.bincount(al.vc, minlength=len(VARIANT_CLASSES) + 1)
        stats.tstv += np.bincount(al.ts, minlength=3)[1:]
        seq_ann = al.seq & ann[al.record]
        sources = np.bincount(al.known_source, minlength=4)
        stats.known_database, stats.known_file, stats.known_both = (int(x) for x in sources[1:4])
        stats.known = stats.known_database + stats.known_file + stats.known_both
        stats.novel = int(seq_ann.sum()) - stats.known
        worst = csq.most_severe_rank(found.csq.allele_terms)  # the table's consequence column
        stats.most_severe += np.bincount(worst[worst >= 0], minlength=len(csq.TERMS))

    def _dots(self, rec: Records, al: Alleles) -> int:
        """ALT '.' (no alternate allele) is not a symbolic allele."""
        lone = ~al.seq & (al.length == 1)
        return int((rec.text_raw[al.at[lone]] == ord(".")).sum())
