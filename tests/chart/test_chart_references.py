"""Reference data in the chart (issue 24 item 4, issue 25 item 4), rendered: `annotation.bundles`
and `annotation.sources` become one build Job (a hook after provisioning) and a fetch init
container in every annotator (and web, manifests only) reading the same spec; the
annotator's storage request counts the references; the schema refuses bad URLs, checksums
and shapes. tests/annotator/test_references_build.py runs the two commands themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from chartlib import ROOT, VALUES, objects, policy_violations

from gas.core.references import parse_spec

REFS = VALUES / "references.yaml"
GIB = 1 << 30


def find(objs: list[dict], kind: str, name: str) -> dict:
    (obj,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_nothing_declared_renders_nothing_new(chart_tools):
    objs = objects(chart_tools.render().stdout)
    assert not [o for o in objs if o["metadata"]["name"] == "gas-references"]
    annotator = find(objs, "Deployment", "gas-annotator")["spec"]["template"]["spec"]
    assert "initContainers" not in annotator
    assert env(annotator["containers"][0])["GAS_ANNOTATION_DB_DIR"] == "/opt/gas/annotation-db"
    assert "initContainers" not in find(objs, "Deployment", "gas-web")["spec"]["template"]["spec"]


def test_bundles_and_sources_build_once_and_reach_every_annotator(chart_tools):
    out = chart_tools.render([REFS]).stdout
    objs = objects(out)
    declared = yaml.safe_load(REFS.read_text())["annotation"]

    job = find(objs, "Job", "gas-references")
    hooks = job["metadata"]["annotations"]
    provisioned = objects(chart_tools.render([REFS], sets=["provisioning.enabled=true"]).stdout)
    provision = find(provisioned, "Job", "gas-provision")["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == provision["helm.sh/hook"] == "pre-install,pre-upgrade"
    # After provisioning (lower weights run first): the references bucket exists.
    assert int(hooks["helm.sh/hook-weight"]) > int(provision["helm.sh/hook-weight"])
    pod = job["spec"]["template"]["spec"]
    (build,) = pod["containers"]
    assert build["image"].split(":")[0].endswith("gas-annotator")  # the engine builds bundles
    assert build["command"] == ["gas-build-references", "--work-dir", "/work"]
    spec_json = env(build)["GAS_REFERENCES_SPEC"]
    assert json.loads(spec_json) == {"bundles": declared["bundles"], "sources": declared["sources"]}
    spec = parse_spec(spec_json)  # what the commands read: every item accepted
    assert [b.name for b in spec.bundles] == ["gencode44"] and [s.name for s in spec.sources] == ["clinvar", "panel"]
    assert pod["serviceAccountName"] == "gas-references"
    sa = find(objs, "ServiceAccount", "gas-references")
    assert sa["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    (work,) = [v for v in pod["volumes"] if v["name"] == "work"]
    assert work["emptyDir"]["sizeLimit"] == build["resources"]["requests"]["ephemeral-storage"] == "16Gi"

    annotator = find(objs, "Deployment", "gas-annotator")["spec"]["template"]["spec"]
    (fetch,) = annotator["initContainers"]
    assert fetch["command"][:5] == [
        "gas-fetch-references",
        "--dest",
        "/var/lib/gas/references",
        "--wait-seconds",
        "3600",
    ]
    assert fetch["command"][5:] == ["--link-from", "/opt/gas/annotation-db"]  # the image's genes-only databases
    assert env(fetch)["GAS_REFERENCES_SPEC"] == spec_json and fetch["image"] == annotator["containers"][0]["image"]
    worker = annotator["containers"][0]
    assert env(worker)["GAS_ANNOTATION_DB_DIR"] == "/var/lib/gas/references"
    assert env(worker)["GAS_ANNOTATION_SOURCES"] == "/var/lib/gas/references/sources.json"
    assert list(env(worker)).count("GAS_ANNOTATION_DB_DIR") == 1
    (refs,) = [v for v in annotator["volumes"] if v["name"] == "references"]
    assert refs["emptyDir"]["sizeLimit"] == "10Gi"
    # Scratch (4Gi) and the references (10Gi) are both on the node's disk.
    assert worker["resources"]["requests"]["ephemeral-storage"] == str(14 * GIB)
    assert {"name": "references", "mountPath": "/var/lib/gas/references", "readOnly": True} in worker["volumeMounts"]

    web = find(objs, "Deployment", "gas-web")["spec"]["template"]["spec"]
    (web_fetch,) = web["initContainers"]
    assert web_fetch["command"][-1] == "--manifests-only" and "--link-from" not in web_fetch["command"]
    assert env(web["containers"][0])["GAS_ANNOTATION_DB_DIR"] == "/var/lib/gas/references"

    assert policy_violations(objs) == []
    assert chart_tools.validate(out).returncode == 0


def test_dev_mode_builds_after_install(chart_tools):
    objs = objects(chart_tools.render([ROOT / "k8s" / "values-dev.yaml", REFS], minimal=False).stdout)
    assert find(objs, "Job", "gas-references")["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"


def test_scratch_on_its_own_volume_leaves_the_references_on_the_node(chart_tools):
    sets = ["workers.annotator.scratch.storageClassName=gp3", "annotation.storage.sizeLimit=5Gi"]
    objs = objects(chart_tools.render([REFS], sets=sets).stdout)
    worker = find(objs, "Deployment", "gas-annotator")["spec"]["template"]["spec"]["containers"][0]
    assert worker["resources"]["requests"]["ephemeral-storage"] == str(5 * GIB)


def bundle(**over) -> dict:
    b = {
        "name": "tx",
        "geneModel": {"url": "s3://acme-refs/genes.gff3.gz", "sha256": "a" * 64, "format": "gff3"},
        "fasta": {"url": "https://refs.acme.org/genome.fa.gz", "sha256": "b" * 64},
    }
    return {**b, **over}


def source(**over) -> dict:
    s = {
        "name": "clinvar",
        "kind": "vcf",
        "version": "1",
        "url": "s3://acme-refs/clinvar.vcf.gz",
        "sha256": "c" * 64,
        "index": {"url": "s3://acme-refs/clinvar.vcf.gz.tbi", "sha256": "d" * 64},
        "fields": ["CLNSIG"],
    }
    return {**s, **over}


BAD = {
    "http-url": {"bundles": [bundle(fasta={"url": "http://refs.acme.org/genome.fa", "sha256": "b" * 64})]},
    "ftp-url": {"bundles": [bundle(fasta={"url": "ftp://refs.acme.org/genome.fa", "sha256": "b" * 64})]},
    "short-sha256": {"bundles": [bundle(fasta={"url": "s3://acme-refs/g.fa", "sha256": "b" * 63})]},
    "upper-sha256": {"bundles": [bundle(fasta={"url": "s3://acme-refs/g.fa", "sha256": "B" * 64})]},
    "no-checksum": {"bundles": [bundle(fasta={"url": "s3://acme-refs/g.fa"})]},
    "format": {"bundles": [bundle(geneModel={"url": "s3://acme-refs/g.gff", "sha256": "a" * 64, "format": "gff"})]},
    "assembly-name": {"bundles": [bundle(name="GRCh38")]},
    "assembly": {"bundles": [bundle(assembly="hg38")]},
    "typo": {"bundles": [bundle(fastaa={"url": "s3://acme-refs/g.fa", "sha256": "b" * 64})]},
    "source-no-index": {"sources": [{k: v for k, v in source().items() if k != "index"}]},
    "source-index-not-tabix": {"sources": [source(index={"url": "s3://acme-refs/clinvar.vcf.gz", "sha256": "d" * 64})]},
    "source-no-version": {"sources": [source(version="")]},
    "source-kind": {"sources": [source(kind="tsv")]},
    "source-bad-id": {"sources": [source(fields={"CLNSIG": "1bad"})]},
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_refuses_bad_references(chart_tools, case, tmp_path: Path):
    values = tmp_path / "bad.yaml"
    values.write_text(yaml.safe_dump({"annotation": BAD[case]}))
    proc = chart_tools.render([values], check=False)
    assert proc.returncode != 0, f"{case} was accepted"
    assert "schema" in proc.stderr and "annotation" in proc.stderr, proc.stderr
