"""Custom annotation sources (docs/annotation-engine.md "Custom annotation sources").

The differential test generates a reference, ClinVar-like and gnomAD-like source VCFs
(multi-allelic records, indels written with extra shared bases so they need normalising,
Number=A/R/1/. fields), a BED and an input VCF spelling the same alleles differently, runs
``gas-annotate --sources`` on the raw files and ``bcftools annotate -a`` on both inputs
normalised by ``bcftools norm -f ref.fa -m-``, and compares every allele.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from engine_support import records
from sources_gen import CONTIG, bgzip_index, make_inputs, run, sources_file

from gas.annotator.engine.sources import SourceError, load_sources, minimal


def gas_annotate(*args: str | Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gas-annotate")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)


def bcftools_values(vcf: Path, fields: list[str]) -> dict[tuple[str, int], dict[str, str]]:
    """(record id, input ALT index) -> {field: value} from a split (norm -m-) annotated VCF."""
    fmt = "%ID\\t%INFO/IDX" + "".join(f"\\t%INFO/{f}" for f in fields) + "\\n"
    out = {}
    for line in run("bcftools", "query", "-f", fmt, vcf).stdout.splitlines():
        cols = line.split("\t")
        out[(cols[0], int(cols[1]))] = dict(zip(fields, cols[2:], strict=True))
    return out


@pytest.fixture(scope="module")
def differential(tmp_path_factory: pytest.TempPathFactory, db_dir: Path) -> dict:
    tmp = tmp_path_factory.mktemp("sources")
    files = make_inputs(tmp)
    spec = sources_file(tmp, files)
    done = gas_annotate(files["input"], "--sources", spec, "-o", tmp / "gas", "--db-dir", db_dir)
    assert done.returncode == 0, done.stderr
    # bcftools: both sides split and normalised against the reference, then annotated.
    norm_in = tmp / "input.norm.vcf.gz"
    run("bcftools", "norm", "-f", files["fasta"], "-m-", "-Oz", "-o", norm_in, files["input"])
    run("tabix", "-f", "-p", "vcf", norm_in)  # bcftools annotate -a VCF reads both sides by index
    norms = {}
    for name in ("gnomad", "clinvar"):
        norms[name] = tmp / f"{name}.norm.vcf.gz"
        run("bcftools", "norm", "-f", files["fasta"], "-m-", "-Oz", "-o", norms[name], files[name])
        run("tabix", "-f", "-p", "vcf", norms[name])
    step1 = tmp / "bcf1.vcf.gz"
    run(
        "bcftools",
        "annotate",
        "-a",
        norms["gnomad"],
        "-c",
        "INFO/AF,INFO/AC,INFO/AN,INFO/DPR,INFO/lcr",
        "-Oz",
        "-o",
        step1,
        norm_in,
    )
    run("tabix", "-f", "-p", "vcf", step1)
    step2 = tmp / "bcf2.vcf.gz"
    run("bcftools", "annotate", "-a", norms["clinvar"], "-c", "INFO/CLNSIG,INFO/ALLELEID", "-Oz", "-o", step2, step1)
    # BED: by position, on the raw input (no normalising: both tools see the same REF spans).
    hdr = tmp / "panel.hdr"
    hdr.write_text(
        '##INFO=<ID=PANEL,Number=.,Type=String,Description="panel">\n'
        '##INFO=<ID=IN_PANEL,Number=0,Type=Flag,Description="in panel">\n'
    )
    bed_out = tmp / "bcf_bed.vcf"
    run(
        "bcftools", "annotate", "-a", files["bed"], "-c", "CHROM,FROM,TO,INFO/PANEL", "-h", hdr,
        "-m", "+IN_PANEL", "-o", bed_out, files["input"],
    )  # fmt: skip
    gas_vcf = tmp / "gas" / "input.annot.vcf"
    return {
        "tmp": tmp,
        "files": files,
        "gas": records(gas_vcf),
        "gas_vcf": gas_vcf,
        "table": pq.read_table(tmp / "gas" / "input.variants.parquet").to_pylist(),
        "summary": json.loads((tmp / "gas" / "input.summary.json").read_text()),
        "bcf": bcftools_values(step2, ["AF", "AC", "AN", "DPR", "lcr", "CLNSIG", "ALLELEID"]),
        "bcf_bed": {r["id"]: r["info"] for r in records(bed_out)},
    }


def test_copied_fields_equal_bcftools_annotate_for_every_allele(differential: dict) -> None:
    gas, bcf, table = differential["gas"], differential["bcf"], differential["table"]
    by_record: dict[str, list[dict]] = {}  # the table's rows of a record follow its ALT order
    for r in table:
        by_record.setdefault(r["id"], []).append(r)
    # GAS field -> (bcftools field, how GAS writes it)
    pairs = {"GNOMAD_AF": "AF", "GNOMAD_AC": "AC", "GNOMAD_AN": "AN", "CLINVAR_ID": "ALLELEID"}
    compared = matched = commas = 0
    for rec in gas:
        alts = rec["alt"].split(",")
        info = rec["info"]
        trows = by_record[rec["id"]]
        assert [t["alt"] for t in trows] == alts
        # Flag: set on the record when any ALT matches a source record carrying it.
        flagged = [bcf[(rec["id"], i)]["lcr"] == "1" for i in range(len(alts))]
        assert ("GNOMAD_LCR" in info) == any(flagged), rec
        assert [t["gnomad_lcr"] for t in trows] == [True if any(flagged) else None] * len(alts)
        for i in range(len(alts)):
            theirs = bcf[(rec["id"], i)]
            for ours, their_id in pairs.items():
                mine = str(info[ours]).split(",")[i] if ours in info else "."
                assert mine == theirs[their_id], (rec, i, ours, theirs)
                col = trows[i][ours.lower()]
                assert (col is None) == (mine == "."), (rec, i, ours)
                if col is not None:
                    assert float(col) == float(mine)
            # Number=R: bcftools' split record holds REF,ALT values; GAS writes REF then every ALT.
            if theirs["DPR"] != ".":
                ref_v, alt_v = theirs["DPR"].split(",")
                mine_r = str(info["GNOMAD_DPR"]).split(",")
                assert (mine_r[0], mine_r[i + 1]) == (ref_v, alt_v), (rec, i)
                assert trows[i]["gnomad_dpr"] == alt_v
            else:
                assert "GNOMAD_DPR" not in info or str(info["GNOMAD_DPR"]).split(",")[i + 1] == "."
            # Number=.: each ALT's own match's whole value, in the table and (its commas %2C,
            # decision 112) in the VCF's slot for that ALT.
            assert (trows[i]["clnsig"] or ".") == theirs["CLNSIG"], (rec, i)
            mine = str(info["CLNSIG"]).split(",")[i] if "CLNSIG" in info else "."
            assert mine.replace("%2C", ",") == theirs["CLNSIG"], (rec, i)
            compared += 1
            matched += theirs["AF"] != "." or theirs["CLNSIG"] != "."
            commas += "," in theirs["CLNSIG"]
    print(f"compared {compared} ALTs, {matched} with a source value, {commas} with a comma in CLNSIG")
    assert compared > 1000 and matched > 400 and commas > 10, (compared, matched, commas)


def test_split_annotated_vcf_equals_the_table_and_bcftools_per_alt(differential: dict) -> None:
    """``bcftools norm -m-`` of GAS's VCF gives each ALT its own record: its Number=. value
    (CLNSIG, %2C decoded) and Number=A value are the table's row for that ALT and what
    ``bcftools annotate`` wrote on the split input (decision 112)."""
    tmp, bcf = differential["tmp"], differential["bcf"]
    split = tmp / "gas.split.vcf"
    run("bcftools", "norm", "-m-", "-o", split, differential["gas_vcf"])
    table = {}
    for r in differential["table"]:
        table.setdefault(r["id"], []).append(r)
    fmt = "%ID\\t%INFO/IDX\\t%INFO/CLNSIG\\t%INFO/GNOMAD_AF\\n"
    seen = with_value = 0
    for line in run("bcftools", "query", "-f", fmt, split).stdout.splitlines():
        rid, idx, sig, af = line.split("\t")
        k = int(idx)
        theirs, row = bcf[(rid, k)], table[rid][k]
        assert sig.replace("%2C", ",") == theirs["CLNSIG"] == (row["clnsig"] or "."), (rid, k)
        assert af == theirs["AF"] and (row["gnomad_af"] is None) == (af == "."), (rid, k)
        seen += 1
        with_value += sig != "."
    assert seen == len(bcf) and with_value > 100, (seen, with_value)


def test_bed_name_and_overlap_equal_bcftools(differential: dict) -> None:
    bcf, hits = differential["bcf_bed"], 0
    by_record: dict[str, list[dict]] = {}
    for r in differential["table"]:
        by_record.setdefault(r["id"], []).append(r)
    for rec in differential["gas"]:
        theirs = bcf[rec["id"]]
        assert rec["info"].get("PANEL") == theirs.get("PANEL"), rec
        assert ("IN_PANEL" in rec["info"]) == ("IN_PANEL" in theirs), rec
        for t in by_record[rec["id"]]:
            assert t["panel"] == theirs.get("PANEL")
            assert t["in_panel"] == (True if "IN_PANEL" in theirs else None)
        hits += "PANEL" in theirs
    assert hits > 20


def test_header_summary_and_table_record_the_sources(differential: dict) -> None:
    head = [x for x in differential["gas_vcf"].read_text().splitlines() if x.startswith("##")]
    assert (
        '##INFO=<ID=GNOMAD_AF,Number=A,Type=Float,Description="Alternate allele frequency (from gnomad, INFO/AF)">'
        in head
    )
    assert any(x.startswith("##INFO=<ID=GNOMAD_DPR,Number=R,Type=Integer") for x in head)
    assert any(x.startswith("##INFO=<ID=CLINVAR_ID,Number=A,Type=Integer") for x in head)  # Number=1: per ALT
    assert any(x.startswith("##INFO=<ID=CLNSIG,Number=A,Type=String") and "%2C" in x for x in head)
    assert any(x.startswith("##INFO=<ID=IN_PANEL,Number=0,Type=Flag") for x in head)
    assert '##GAS_source=<Name=gnomad,Kind=vcf,Version="4.1-test",File=gnomad.vcf.gz>' in head
    used = {s["name"]: s["version"] for s in differential["summary"]["sources"]}
    assert used == {"gnomad": "4.1-test", "clinvar": "2026-11", "panel": "v3", "panelflag": "v3"}
    schema = pq.read_schema(differential["tmp"] / "gas" / "input.variants.parquet")
    assert str(schema.field("gnomad_af").type) == "double" and schema.field("gnomad_af").nullable
    assert str(schema.field("clinvar_id").type) == "int64"
    assert str(schema.field("in_panel").type) == "bool"
    assert json.loads(schema.metadata[b"gas.sources"])[1]["version"] == "2026-11"
    # bcftools reads the annotated file (headers declared, values well-formed)
    run("bcftools", "view", "-H", differential["gas_vcf"])


def test_minimal_trims_as_norm_without_a_reference() -> None:
    assert minimal(100, "CAT", "CT") == (101, "A", "")  # padded deletion
    assert minimal(100, "ATG", "AG") == (101, "T", "")  # the same deletion, other padding
    assert minimal(100, "C", "CTT") == (101, "", "TT")
    assert minimal(100, "AC", "GC") == (100, "A", "G")
    # What trimming cannot do: one deletion of a C from CCC spelled at two positions stays
    # two keys (a FASTA would left-align both); such sources need bcftools norm -f first.
    assert minimal(100, "CC", "C") != minimal(101, "CC", "C")


def _vcf_source(tmp: Path, **extra: object) -> Path:
    files = make_inputs(tmp)
    spec = {"name": "gnomad", "kind": "vcf", "path": str(files["gnomad"]), "version": "1", "fields": ["AF"], **extra}
    path = tmp / "s.json"
    path.write_text(json.dumps([spec]))
    return path


def test_missing_or_stale_index_or_compiled_form_fails_the_check(tmp_path: Path, db_dir: Path) -> None:
    """The check an annotator runs at start (no compiling): a VCF source needs its compiled
    form (decision 126), built from the file as it is now; gas-annotate builds it."""
    spec = _vcf_source(tmp_path)
    with pytest.raises(SourceError, match=r"source gnomad: no compiled form \(gnomad.vcf.gz.gasc.json beside "
                       r"gnomad.vcf.gz\): build it with gas-build-references"):  # fmt: skip
        load_sources(spec)
    assert load_sources(spec, compile_missing=True).sources[0].fields[0].info_id == "AF"
    assert load_sources(spec).sources[0].fields[0].info_id == "AF"
    data = tmp_path / "gnomad.vcf.gz"
    index = Path(f"{data}.tbi")
    later = time.time() + 5
    os.utime(index, (later + 1, later + 1))
    os.utime(data, (later, later))  # the data file replaced: its compiled form is stale
    with pytest.raises(SourceError, match=r"source gnomad: the compiled form gnomad.vcf.gz.gasc.json is stale: "
                       rf"built from {data.stat().st_size} bytes modified at \d+ ns, gnomad.vcf.gz is"):  # fmt: skip
        load_sources(spec)
    load_sources(spec, compile_missing=True)  # built again
    assert load_sources(spec).sources[0].name == "gnomad"
    compiled = tmp_path / "gnomad.vcf.gz.gasc"
    compiled.write_bytes(compiled.read_bytes()[:-64])
    with pytest.raises(SourceError, match=r"the compiled form gnomad.vcf.gz.gasc is missing or not \d+ bytes"):
        load_sources(spec)
    os.utime(index, (later - 10, later - 10))  # the data file rewritten after its index
    with pytest.raises(SourceError, match=r"source gnomad: the index gnomad.vcf.gz.tbi is older than gnomad.vcf.gz"):
        load_sources(spec)
    done = gas_annotate(tmp_path / "input.vcf", "--sources", spec, "-o", tmp_path / "out", "--db-dir", db_dir)
    assert done.returncode == 3
    assert "gas-annotate: annotation sources: source gnomad: the index gnomad.vcf.gz.tbi is older" in done.stderr
    assert not (tmp_path / "out").exists()
    index.unlink()
    with pytest.raises(SourceError, match=r"gnomad.vcf.gz has no tabix index .* run tabix -p vcf"):
        load_sources(spec)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"fields": ["NOPE"]}, "INFO/NOPE is not declared in gnomad.vcf.gz's header"),
        ({"version": ""}, "a version is required"),
        ({"kind": "bam"}, "kind must be vcf or bed"),
        ({"path": "/nonexistent.vcf.gz"}, "/nonexistent.vcf.gz does not exist"),
        ({"fields": {"AF": "RSID"}}, "RSID is written by GAS itself"),
        ({"fields": {"AF": "Region"}}, "Region is written by GAS itself (INFO id or table column)"),
    ],
)
def test_bad_declarations_are_refused_by_name(tmp_path: Path, extra: dict, message: str) -> None:
    with pytest.raises(SourceError, match=re.escape(message)):
        load_sources(_vcf_source(tmp_path, **extra))


def test_plain_gzip_source_is_refused(tmp_path: Path) -> None:
    spec = _vcf_source(tmp_path)
    data = tmp_path / "gnomad.vcf.gz"
    run("bgzip", "-d", "-f", data)
    run("gzip", "-f", tmp_path / "gnomad.vcf")
    with pytest.raises(SourceError, match="is not bgzip-compressed"):
        load_sources(spec)


def test_every_allele_kind_keeps_its_row_and_reannotating_is_stable(tmp_path: Path, db_dir: Path) -> None:
    """Symbolic, breakend, `*` and `.` ALTs get no value but keep their table rows; a second
    run over the annotated file replaces the fields rather than doubling them."""
    spec = _vcf_source(tmp_path)
    src = [x for x in run("bgzip", "-dc", tmp_path / "gnomad.vcf.gz").stdout.splitlines() if not x.startswith("#")]
    chrom, pos, _, ref, alts = src[0].split("\t")[:5]
    body = "\n".join(
        [
            f"chr{chrom}\t{pos}\tk1\t{ref}\t<DEL>,{alts.split(',')[0]},*\t.\t.\t.",
            f"{chrom}\t{int(pos) + 1}\tk2\tN\t.\t.\t.\t.",
            f"{chrom}\t{int(pos) + 2}\tk3\tA\tA]22:500]\t.\t.\tAF=0.5;NOTE=caf\xe9",
        ]
    )
    path = tmp_path / "kinds.vcf"
    path.write_text(  # NOTE is non-ASCII UTF-8: passed through unchanged
        '##fileformat=VCFv4.2\n##INFO=<ID=AF,Number=A,Type=Float,Description="theirs">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body + "\n"
    )
    done = gas_annotate(path, "--sources", spec, "-o", tmp_path / "o1", "--db-dir", db_dir)
    assert done.returncode == 0, done.stderr
    assert "NOTE=caf\xe9" in (tmp_path / "o1" / "kinds.annot.vcf").read_text()
    first = records(tmp_path / "o1" / "kinds.annot.vcf")
    af = next(kv.split("=")[1] for kv in src[0].split("\t")[7].split(";") if kv.startswith("AF="))
    assert first[0]["info"]["AF"] == f".,{af.split(',')[0]},."
    assert "AF" not in first[1]["info"] and "AF" not in first[2]["info"]  # the input's own AF replaced
    table = pq.read_table(tmp_path / "o1" / "kinds.variants.parquet").to_pylist()
    assert [r["af"] for r in table] == [None, float(af.split(",")[0]), None, None, None]
    again = gas_annotate(
        tmp_path / "o1" / "kinds.annot.vcf", "--sources", spec, "-o", tmp_path / "o2", "--db-dir", db_dir
    )
    assert again.returncode == 0, again.stderr
    second = tmp_path / "o2" / "kinds.annot.annot.vcf"
    assert [r["info"] for r in records(second)] == [r["info"] for r in first]
    head = second.read_text()
    assert head.count("##INFO=<ID=AF,") == 1 and head.count("##GAS_source=") == 1


def test_the_annotators_engine_child_adds_the_deployments_sources(tmp_path: Path, db_dir: Path) -> None:
    """The worker's path: AnnotatorSettings.annotation_sources (GAS_ANNOTATION_SOURCES) ->
    EngineRun -> the engine child process; the job's summary records the sources used."""
    import threading

    from gas.annotator.engine import EngineLimits
    from gas.annotator.worker import AnnotatorSettings, EngineRun, run_engine

    spec = _vcf_source(tmp_path)
    load_sources(spec, compile_missing=True)  # as the provisioning step built it
    settings = AnnotatorSettings.model_validate({"annotation_sources": spec})
    assert settings.annotation_sources == spec
    run = EngineRun(
        tmp_path / "input.vcf",
        tmp_path / "out",
        "GRCh37",
        db_dir,
        0,
        EngineLimits(),
        sources=settings.annotation_sources,
    )
    outcome = run_engine(run, threading.Event())
    assert outcome.kind == "ok", outcome.detail
    assert outcome.summary is not None and outcome.summary["sources"][0]["version"] == "1"
    assert "AF=" in (tmp_path / "out" / "input.annot.vcf").read_text()


def test_a_bed_source_needs_bgzip_and_its_index_too(tmp_path: Path) -> None:
    files = make_inputs(tmp_path)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps([{"name": "panel", "kind": "bed", "path": str(files["bed"]), "version": "v3"}]))
    with pytest.raises(SourceError, match=re.escape("source panel: a BED source takes one field")):
        load_sources(spec)
    spec.write_text(
        json.dumps(
            [{"name": "panel", "kind": "bed", "path": str(files["bed"]), "version": "v3", "fields": {"name": "P"}}]
        )
    )
    with pytest.raises(SourceError, match=re.escape("source panel: no compiled form (panel.bed.gz.gasc.json")):
        load_sources(spec)  # a BED is compiled too
    assert load_sources(spec, compile_missing=True).sources[0].fields[0].number == "."
    Path(f"{files['bed']}.tbi").unlink()
    with pytest.raises(
        SourceError, match=re.escape("panel.bed.gz has no tabix index (panel.bed.gz.tbi or .csi): run tabix -p bed")
    ):
        load_sources(spec)


def test_a_declaration_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("sources: [name: x\n")
    with pytest.raises(SourceError, match="s.yaml: not valid YAML"):
        load_sources(bad)
    bad.write_text("just text")
    with pytest.raises(SourceError, match="expected a list of sources"):
        load_sources(bad)


@pytest.mark.parametrize("contig", [CONTIG, "chrUn_gl000220"])
def test_nested_bed_regions_and_far_records(tmp_path: Path, contig: str) -> None:
    """The compiled BED (regions sorted by start, the largest end so far): a region containing
    others and regions starting long before a record are found, names in file order, only the
    record's own contig's (another contig's rows before and after); a contig name longer than
    8 bytes (no CHROM key: the block's contigs are named one by one)."""
    from gas.annotator.engine.sources import SourcesStage

    bed = tmp_path / "nested.bed"
    rows = [(100, 5000, "big"), (200, 300, "a"), (250, 260, "b"), (4000, 4100, "c"), (10000, 10010, "far")]
    text = "".join(f"{contig}\t{s}\t{e}\t{n}\n" for s, e, n in rows)
    bed.write_text(f"1\t0\t99999\tother\n{text}" if contig != "1" else text + "X\t0\t99999\tother\n")
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps([{"name": "p", "kind": "bed", "path": str(bgzip_index(bed, "bed")),
                                 "version": "1", "fields": {"name": "PANEL"}}]))  # fmt: skip
    stage = SourcesStage(load_sources(spec, compile_missing=True))
    lines = [f"{contig}\t{pos}\t.\t{ref}\tG\t.\t.\t.\n" for pos, ref in [(255, "A"), (4050, "A"), (6000, "A"),
             (9990, "A" * 12), (10011, "A")]]  # fmt: skip
    text, _ = stage.annotate("".join(lines).encode())
    infos = [line.split("\t")[7] for line in text.decode().splitlines()]
    assert infos == ["PANEL=big,a,b", "PANEL=big,c", ".", "PANEL=far", "."]


def test_a_compiled_form_that_cannot_be_written_is_a_source_error(tmp_path: Path, db_dir: Path) -> None:
    """gas-annotate builds a missing form beside the source; where it cannot, it says so (exit 3)."""
    spec = _vcf_source(tmp_path)
    (tmp_path / "gnomad.vcf.gz.gasc").mkdir()  # the form's name taken
    done = gas_annotate(tmp_path / "input.vcf", "--sources", spec, "-o", tmp_path / "out", "--db-dir", db_dir)
    assert done.returncode == 3, done.stderr
    assert (
        "gas-annotate: annotation sources: source gnomad: no compiled form (gnomad.vcf.gz.gasc.json beside "
        "gnomad.vcf.gz), and it cannot be written: [Errno 21] Is a directory"
    ) in done.stderr


@pytest.mark.parametrize("kind", ["tbi", "csi"])
def test_the_index_names_the_contigs_and_a_truncated_source_fails_the_compile(tmp_path: Path, kind: str) -> None:
    """The contigs compiled are the tabix index's (.tbi and .csi); a source cut short fails
    its compiling with the file named, not with fewer rows."""
    from gas.annotator.engine.sources import _index_contigs

    files = make_inputs(tmp_path)
    src = files["bed"]
    if kind == "csi":
        run("tabix", "-f", "-C", "-p", "bed", src)
        Path(f"{src}.tbi").unlink()
    assert _index_contigs(src) == [CONTIG]
    spec = _vcf_source(tmp_path)
    data = files["gnomad"].read_bytes()
    files["gnomad"].write_bytes(data[: len(data) // 2])
    os.utime(f"{files['gnomad']}.tbi")  # the index not older than the data
    with pytest.raises(SourceError, match=r"source gnomad: gnomad.vcf.gz cannot be read: "):
        load_sources(spec, compile_missing=True)
