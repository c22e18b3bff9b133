"""The chart's build step and the annotators' fetch (decision 95) as the cluster runs them:
`gas-build-references` and `gas-fetch-references` as processes against moto server (S3 over
HTTP), with the hand-made bundle of bundle_support and a bgzipped, tabix-indexed source.
A good bundle is built once, fetched and annotated with (per-transcript CSQ); a checksum
mismatch, a GFF3 naming an unknown sequence, a truncated FASTA and a stale source index
each fail the step with a clear message and leave what was built before in service."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from bundle_support import write_inputs

from gas.core.references import parse_spec

BIN = Path(sys.executable).parent
VCF = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t117\t.\t{ref}\tG\t.\t.\t.\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(cmd: str, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / cmd), *map(str, args)], capture_output=True, text=True, timeout=timeout)


class Deployer:
    """The deployment's own bucket, where its reference inputs are (s3:// URLs)."""

    def __init__(self, aws: Any, prefix: str):
        self.s3, self.bucket = aws.client("s3"), f"{prefix}-deploy"
        self.s3.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes) -> dict[str, str]:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return {"url": f"s3://{self.bucket}/{key}", "sha256": sha(data)}


@pytest.fixture
def setup(provisioned, aws_env, tmp_path: Path):
    deployer = Deployer(provisioned, aws_env["GAS_PREFIX"])
    paths = write_inputs(tmp_path / "in")
    gff3, fasta = paths["gff3"].read_bytes(), paths["fasta"].read_bytes()
    bundle = {
        "name": "tiny",
        "geneModel": {**deployer.put("v1/genes.gff3", gff3), "format": "gff3"},
        "fasta": deployer.put("v1/genome.fa", fasta),
    }
    return deployer, bundle, gff3, fasta, provisioned


def write_spec(path: Path, bundles: list[dict], sources: list[dict] | None = None) -> Path:
    path.write_text(json.dumps({"bundles": bundles, "sources": sources or []}))
    return path


def references(aws: Any, prefix: str) -> list[str]:
    listing = aws.client("s3").list_objects_v2(Bucket=f"{prefix}-references")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_bundle_built_once_fetched_and_annotated(setup, aws_env, tmp_path: Path) -> None:
    deployer, bundle, _, fasta, aws = setup
    spec = write_spec(tmp_path / "spec.json", [bundle])
    key = parse_spec(spec.read_text()).bundles[0].key
    proc = run("gas-build-references", "--spec", spec, "--work-dir", tmp_path / "work")
    assert proc.returncode == 0, proc.stderr
    assert references(aws, aws_env["GAS_PREFIX"]) == [
        f"bundles/{key}/gas-bundle-tiny-v2.gasdb",
        f"bundles/{key}/gas-bundle-tiny-v2.manifest.json",
    ]
    # Content-addressed: a second run (the next `helm upgrade`) builds nothing.
    again = run("gas-build-references", "--spec", spec, "--work-dir", tmp_path / "work")
    assert again.returncode == 0 and '"outcome": "built before"' in again.stdout, again.stdout

    # The web's init container: manifests only; the annotator's: the file too, checked.
    web = tmp_path / "web-db"
    proc = run("gas-fetch-references", "--spec", spec, "--dest", web, "--manifests-only")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in web.iterdir()) == ["gas-bundle-tiny-v2.manifest.json"]
    db = tmp_path / "annotator-db"
    proc = run("gas-fetch-references", "--spec", spec, "--dest", db)
    assert proc.returncode == 0, proc.stderr
    verify = run("gas-annotation-db", "verify", "--name", "tiny", "--db-dir", db)
    assert verify.returncode == 0, verify.stderr

    genome = fasta.decode().split("\n", 1)[1].replace("\n", "")
    vcf = tmp_path / "case.vcf"
    vcf.write_text(VCF.format(ref=genome[116]))
    proc = run("gas-annotate", vcf, "--db", "tiny", "--db-dir", db, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    record = next(line for line in (tmp_path / "out" / "case.annot.vcf").read_text().splitlines() if line[0] != "#")
    # c.7C>G: CTG>GTG, Leu3Val on ENST1.3 (bundle_support's hand-placed CDS).
    assert "missense_variant" in record and "ENST1.3" in record and "p.Leu3Val" in record, record


def test_bad_bundles_fail_the_build_and_keep_the_previous_one(setup, aws_env, tmp_path: Path) -> None:
    deployer, good, gff3, fasta, aws = setup
    good_spec = write_spec(tmp_path / "good.json", [good])
    assert run("gas-build-references", "--spec", good_spec, "--work-dir", tmp_path / "w").returncode == 0
    before = references(aws, aws_env["GAS_PREFIX"])

    changed = deployer.put("v2/genome.fa", fasta.replace(b"ACGT", b"ACGA", 1))
    # The values name a new FASTA by its checksum; the URL serves another file. (The same
    # declared checksum at another URL is the same bundle: built before, not fetched.)
    mismatch = {**good, "fasta": {"url": changed["url"], "sha256": sha(fasta + b">extra\nACGT\n")}}
    unknown = {**good, "geneModel": {**deployer.put("v2/genes.gff3", gff3.replace(b"chr1", b"chrZ")), "format": "gff3"}}
    truncated = {**good, "fasta": deployer.put("v3/genome.fa", fasta[: len(fasta) // 2])}
    cases = [
        (mismatch, f"bundle tiny: fasta: {changed['url']}: sha256 is {changed['sha256']}"),
        (unknown, "bundle tiny: genes.gff3:4: sequence 'chrZ' is not in genome.fa (it has chr1)"),
        (truncated, "bundle tiny: genes.gff3:"),
    ]
    for i, (bad, expected) in enumerate(cases):
        bad_spec = write_spec(tmp_path / f"bad{i}.json", [bad])
        proc = run("gas-build-references", "--spec", bad_spec, "--work-dir", tmp_path / "w")
        assert proc.returncode == 1 and expected in proc.stderr, proc.stderr
        assert references(aws, aws_env["GAS_PREFIX"]) == before  # nothing half-built, nothing replaced
        assert not list((tmp_path / "w").iterdir())  # the inputs are not left on the Job's volume
    assert "truncated FASTA?" in proc.stderr, proc.stderr
    # An annotator of a failed spec stays in its init container (never Ready) ...
    waiting = run("gas-fetch-references", "--spec", bad_spec, "--dest", tmp_path / "new", "--wait-seconds", "0")
    assert waiting.returncode == 1 and "bundle tiny is not built" in waiting.stderr, waiting.stderr
    # ... while those of the previous one keep (and can still get) what was built before.
    kept = run("gas-fetch-references", "--spec", good_spec, "--dest", tmp_path / "old")
    assert kept.returncode == 0, kept.stderr
    assert run("gas-annotation-db", "verify", "--name", "tiny", "--db-dir", tmp_path / "old").returncode == 0


def bgzipped_source(tmp_path: Path, fasta: bytes) -> tuple[bytes, bytes]:
    genome = fasta.decode().split("\n", 1)[1].replace("\n", "")
    vcf = tmp_path / "clin.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t117\t.\t{genome[116]}\tG\t.\t.\tCLNSIG=Pathogenic\n"
    )
    subprocess.run(["bgzip", "-f", str(vcf)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", f"{vcf}.gz"], check=True)
    return Path(f"{vcf}.gz").read_bytes(), Path(f"{vcf}.gz.tbi").read_bytes()


def test_source_checked_fetched_and_used(setup, aws_env, tmp_path: Path) -> None:
    deployer, bundle, _, fasta, aws = setup
    data, index = bgzipped_source(tmp_path, fasta)
    # Index uploaded after its data: its Last-Modified is not older (S3's is to the second).
    source = {"name": "clinvar", "kind": "vcf", "version": "2026-01", "fields": {"CLNSIG": "CLIN_SIG"}}
    source |= deployer.put("clinvar/clin.vcf.gz", data)
    bed = tmp_path / "panel.bed"
    bed.write_text("chr1\t100\t200\tBRCA_panel\n")
    subprocess.run(["bgzip", "-f", str(bed)], check=True)
    subprocess.run(["tabix", "-f", "-p", "bed", f"{bed}.gz"], check=True)
    panel = {"name": "panel", "kind": "bed", "version": "3", "fields": {"name": "PANEL"}}
    panel |= deployer.put("panel/panel.bed.gz", Path(f"{bed}.gz").read_bytes())
    time.sleep(1.1)
    source["index"] = deployer.put("clinvar/clin.vcf.gz.tbi", index)
    panel["index"] = deployer.put("panel/panel.bed.gz.tbi", Path(f"{bed}.gz.tbi").read_bytes())
    spec = write_spec(tmp_path / "spec.json", [bundle], [source, panel])
    proc = run("gas-build-references", "--spec", spec, "--work-dir", tmp_path / "w")
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "db"
    assert run("gas-fetch-references", "--spec", spec, "--dest", db).returncode == 0
    declared = json.loads((db / "sources.json").read_text())["sources"]
    assert declared == [
        {**{k: source[k] for k in ("name", "kind", "version", "fields")}, "path": "clinvar/clinvar.vcf.gz"},
        {**{k: panel[k] for k in ("name", "kind", "version", "fields")}, "path": "panel/panel.bed.gz"},
    ]
    # The compiled form (decision 126) was built once, shipped beside the source and passes the
    # annotator's start check (which never compiles) as fetched.
    built = [k for k in references(aws, aws_env["GAS_PREFIX"]) if k.startswith("sources/")]
    assert sorted(k.rsplit("/", 1)[1] for k in built) == [
        "clinvar.vcf.gz", "clinvar.vcf.gz.gasc", "clinvar.vcf.gz.gasc.json", "clinvar.vcf.gz.tbi",
        "panel.bed.gz", "panel.bed.gz.gasc", "panel.bed.gz.gasc.json", "panel.bed.gz.tbi", "source.json", "source.json",
    ]  # fmt: skip
    from gas.annotator.engine.sources import load_sources

    assert [s.name for s in load_sources(db / "sources.json").sources] == ["clinvar", "panel"]
    manifest = db / "clinvar" / "clinvar.vcf.gz.gasc.json"
    assert json.loads(manifest.read_text())["source"]["sha256"] == source["sha256"]
    fetched_at = manifest.stat().st_mtime_ns
    vcf = tmp_path / "case.vcf"
    genome = fasta.decode().split("\n", 1)[1].replace("\n", "")
    vcf.write_text(VCF.format(ref=genome[116]))
    out = run(
        "gas-annotate", vcf, "--db", "tiny", "--db-dir", db, "--sources", db / "sources.json", "-o", tmp_path / "out"
    )
    assert out.returncode == 0, out.stderr
    annotated = (tmp_path / "out" / "case.annot.vcf").read_text()
    assert "CLIN_SIG=Pathogenic;PANEL=BRCA_panel" in annotated and "##GAS_source=<Name=clinvar" in annotated
    assert manifest.stat().st_mtime_ns == fetched_at  # used as fetched, not built again
    # A compiled form built from another file, or none, fails the fetch (the pods' init) by name.
    s3, bucket = aws.client("s3"), f"{aws_env['GAS_PREFIX']}-references"
    key = next(k for k in built if k.endswith("clinvar.vcf.gz.gasc.json"))
    stale = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    stale["source"]["sha256"] = "0" * 64
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(stale).encode())
    proc = run("gas-fetch-references", "--spec", spec, "--dest", tmp_path / "db2")
    assert proc.returncode != 0
    assert f"source clinvar: its compiled form is stale: format 1 built from sha256 {'0' * 64}" in proc.stderr
    s3.delete_object(Bucket=bucket, Key=key)
    proc = run("gas-fetch-references", "--spec", spec, "--dest", tmp_path / "db3")
    assert proc.returncode != 0
    assert f"source clinvar: its compiled form s3://{bucket}/{key} is missing" in proc.stderr


def test_stale_source_index_fails_the_build(setup, aws_env, tmp_path: Path) -> None:
    deployer, _, _, fasta, aws = setup
    data, index = bgzipped_source(tmp_path, fasta)
    source = {"name": "clinvar", "kind": "vcf", "version": "2026-01", "fields": ["CLNSIG"]}
    source["index"] = deployer.put("clinvar/clin.vcf.gz.tbi", index)
    time.sleep(1.1)
    source |= deployer.put("clinvar/clin.vcf.gz", data)  # the data re-uploaded after its index
    proc = run("gas-build-references", "--spec", write_spec(tmp_path / "spec.json", [], [source]))
    assert proc.returncode == 1
    assert "source clinvar: the index clinvar.vcf.gz.tbi is older than clinvar.vcf.gz (stale)" in proc.stderr
    assert references(aws, aws_env["GAS_PREFIX"]) == []
    missing = {**source, "fields": ["NOPE"], "index": source["index"]}
    proc = run("gas-build-references", "--spec", write_spec(tmp_path / "spec2.json", [], [missing]))
    assert proc.returncode == 1 and "source clinvar" in proc.stderr, proc.stderr


def test_bad_spec_is_refused_before_anything_is_fetched(aws_env, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "bundles": [
                    {"name": "x", "geneModel": {"url": "http://a/b", "sha256": "0" * 64, "format": "gff3"}, "fasta": {}}
                ]
            }
        )
    )
    proc = run("gas-build-references", "--spec", spec)
    assert proc.returncode == 2 and "url must be https:// or s3://" in proc.stderr, proc.stderr


@pytest.fixture
def https_server(tmp_path: Path):
    """A static HTTPS server on loopback (self-signed for 127.0.0.1): what serves the inputs of
    an https:// URL. Its Last-Modified is each file's mtime (SimpleHTTPRequestHandler)."""
    import functools
    import http.server
    import ssl
    import threading

    root, cert, key = tmp_path / "site", tmp_path / "cert.pem", tmp_path / "key.pem"
    root.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()


def test_https_inputs_and_their_last_modified(setup, aws_env, tmp_path: Path, https_server) -> None:
    """https:// inputs (the CA the process trusts: SSL_CERT_FILE); a source's index older than
    its data by the server's Last-Modified is stale, as on S3."""
    _, _, gff3, fasta, _ = setup
    root, base, cert = https_server
    (root / "genes.gff3").write_bytes(gff3)
    (root / "genome.fa").write_bytes(fasta)
    data, index = bgzipped_source(tmp_path, fasta)
    (root / "clin.vcf.gz").write_bytes(data)
    (root / "clin.vcf.gz.tbi").write_bytes(index)
    os.utime(root / "clin.vcf.gz.tbi", (1_700_000_000, 1_700_000_000))  # indexed long before the data
    bundle = {
        "name": "web-tiny",
        "geneModel": {"url": f"{base}/genes.gff3", "sha256": sha(gff3), "format": "gff3"},
        "fasta": {"url": f"{base}/genome.fa", "sha256": sha(fasta)},
    }
    source = {"name": "clinvar", "kind": "vcf", "version": "1", "fields": ["CLNSIG"]}
    source |= {"url": f"{base}/clin.vcf.gz", "sha256": sha(data)}
    source["index"] = {"url": f"{base}/clin.vcf.gz.tbi", "sha256": sha(index)}
    spec = write_spec(tmp_path / "spec.json", [bundle], [source])
    env = {**os.environ, "SSL_CERT_FILE": str(cert)}
    argv = [str(BIN / "gas-build-references"), "--spec", str(spec), "--work-dir", str(tmp_path / "w")]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    # The bundle was built; the source refused, naming why.
    assert '"outcome": "built"' in proc.stdout and '"name": "web-tiny"' in proc.stdout, proc.stdout
    assert "source clinvar: the index clinvar.vcf.gz.tbi is older than clinvar.vcf.gz (stale)" in proc.stderr
    untrusted = subprocess.run(argv, capture_output=True, text=True, timeout=120)  # without the CA
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr
