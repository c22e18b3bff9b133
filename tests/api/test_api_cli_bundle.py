"""The `gas` CLI with a transcript bundle (issue 24, items 3 and 5): `gas databases` lists
what the stack's database directory holds, an unknown `--database` is refused before
anything is uploaded, and a job annotated with the bundle downloads a VCF that names the
bundle's sources and carries per-transcript consequences (CSQ); a job that names no
database stays on the genes-only one, as older clients' jobs do."""

from __future__ import annotations

import json
from pathlib import Path

from api_stack_support import make_token, sample_path, site_user


def test_databases_listed_and_a_bundle_job_through_the_cli(api_stack, api_bundle, gas, tmp_path):
    gas.login(make_token(site_user(api_stack.url)))
    manifest = json.loads((api_bundle.db_dir / f"gas-bundle-{api_bundle.name}-v2.manifest.json").read_text())
    model_sha = manifest["source"]["gene_model"]["sha256"]

    listed = gas.run("databases", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {d["name"]: d for d in json.loads(listed.stdout)}
    assert list(by_name) == ["GRCh37", "GRCh38", api_bundle.name]
    assert by_name["GRCh38"]["kind"] == "genes" and by_name["GRCh38"]["sources"] == "genes only"
    assert by_name[api_bundle.name]["kind"] == "bundle" and model_sha in by_name[api_bundle.name]["sources"]
    assert gas.run("databases").stdout.splitlines()[2].startswith(f"{api_bundle.name}\tother genome — ")

    # An unknown name: refused before the upload, so no job exists afterwards.
    refused = gas.run("submit", str(api_bundle.vcf), "--database", "gencode99")
    assert refused.returncode == 2
    assert f"unknown database 'gencode99'; this server has: GRCh37, GRCh38, {api_bundle.name}" in refused.stderr
    assert json.loads(gas.run("jobs", "--json").stdout) == []

    done = gas.run("submit", str(api_bundle.vcf), "--database", api_bundle.name, "-o", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    (job,) = json.loads(done.stdout)
    assert job["status"] == "COMPLETED" and job["database"] == api_bundle.name
    assert job["database_kind"] == f"bundle {api_bundle.name}" and model_sha in job["database_sources"]
    text = Path(job["path"]).read_text()
    assert f"##GAS_bundle=<Name={api_bundle.name},GeneModel=genes.gff3,GeneModelSHA256={model_sha}," in text
    records = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    input_records = [line for line in api_bundle.vcf.read_text().splitlines() if not line.startswith("#")]
    assert len(records) == len(input_records)
    terms = {
        term
        for r in records
        for entry in dict(f.split("=", 1) for f in r[7].split(";") if "=" in f)["CSQ"].split(",")
        for term in entry.split("|")[1].split("&")
    }
    # Per-transcript terms the genes-only databases never give.
    assert {"missense_variant", "synonymous_variant", "frameshift_variant"} <= terms
    status = gas.run("status", job["job_id"])
    assert f"database_kind: bundle {api_bundle.name}" in status.stdout

    # No --database: the genes-only database of --assembly, as before bundles.
    plain = gas.run("submit", str(sample_path("test.vcf")), "--wait", "--json")
    assert plain.returncode == 0, plain.stderr
    (genes,) = json.loads(plain.stdout)
    assert genes["database"] is None and genes["database_kind"] == "genes only"
    assert genes["database_sources"] == "genes only" and genes["database_version"] == "GRCh37-v2"

    # The bundle job's variant table through the CLI (decision 103): --impact, --where and a
    # numeric --sort go to the API, and --tsv has the picked transcript consequence's columns.
    every = json.loads(gas.run("variants", job["job_id"], "--json").stdout)["variants"]
    impact = next(i for i in ("MODERATE", "HIGH", "LOW") if any(v["impact"] == i for v in every))
    limit = sorted(v["pos"] for v in every)[len(every) // 2]
    asked = gas.run(
        "variants", job["job_id"], "--impact", impact, "--where", f"pos <= {limit}", "--sort", "-pos", "--tsv"
    )
    assert asked.returncode == 0, asked.stderr
    header, *lines = asked.stdout.splitlines()
    rows = [dict(zip(header.split("\t"), line.split("\t"), strict=True)) for line in lines]
    want = sorted((v for v in every if v["impact"] == impact and v["pos"] <= limit), key=lambda v: -v["pos"])
    assert want and [(int(r["pos"]), r["alt"], r["impact"]) for r in rows] == [
        (v["pos"], v["alt"], impact) for v in want
    ]
    assert {"impact", "symbol", "transcript", "hgvsc", "hgvsp"} <= set(header.split("\t"))
    assert all(r["transcript"] for r in rows)
    refused = gas.run("variants", job["job_id"], "--where", "pos<abc")
    assert refused.returncode != 0 and "query.where" in refused.stderr and "needs a number" in refused.stderr
