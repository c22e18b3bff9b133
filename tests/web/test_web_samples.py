"""Samples over HTTP (Flask test client, moto server): the sample filter, genotype columns and
the per-sample counts of a job whose results are the engine's own output for a generated
107-sample VCFv3.3 file (tests/samples_vcf.py), checked against bcftools on the annotated VCF."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from api_support import api_rows, bearer, create_token
from results_support import EngineResult, engine_result, store_result
from samples_vcf import SAMPLES, write_v33
from support import needs_bcftools


@pytest.fixture
def api_token():
    tokens: dict[int, dict[str, str]] = {}

    def headers(client) -> dict[str, str]:
        if id(client) not in tokens:
            tokens[id(client)] = bearer(create_token(client, scopes=("read",)))
        return tokens[id(client)]

    return headers


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> EngineResult:
    out = tmp_path_factory.mktemp("cohort")
    result = engine_result(write_v33(out / "cohort.vcf"), out / "out")
    assert result.genotypes is not None
    return result


def _store(web_aws, user_id: str, cohort: EngineResult) -> Any:
    key = f"{user_id}/genotypes-{len(cohort.genotypes)}/cohort.genotypes.parquet"
    web_aws.client("s3").put_object(Bucket=web_aws.names.results_bucket, Key=key, Body=cohort.genotypes)
    return store_result(web_aws, user_id, cohort, name="cohort.vcf", genotypes_key=key)


def _bcftools(vcf: Path, sample: str, gt_class: str) -> set[int]:
    """Positions bcftools keeps; `view -s S -i` would test every sample (bcftools 1.16)."""
    subset = subprocess.run(["bcftools", "view", "-s", sample, str(vcf)], capture_output=True, check=True)
    kept = subprocess.run(
        ["bcftools", "query", "-i", f'GT="{gt_class}"', "-f", "%CHROM:%POS\\n", "-"],
        input=subset.stdout,
        capture_output=True,
        check=True,
    )
    return set(kept.stdout.decode().split())


@needs_bcftools
@pytest.mark.parametrize(("index", "gt", "peer"), [(0, "carrier", "alt"), (53, "het", "het"), (106, "hom_alt", "AA"),
                                                   (7, "no_call", "mis")])  # fmt: skip
def test_sample_filter_counts_what_bcftools_counts(sign_in, web_aws, cohort, api_token, index, gt, peer):
    c, user_id = sign_in()
    job = _store(web_aws, user_id, cohort)
    sample = SAMPLES[index]
    want = _bcftools(cohort.annotated, sample, peer)
    assert len(want) > 50
    args = [("sample", sample), ("gt", gt), ("show", sample)]
    query = urllib.parse.urlencode(args)
    html = c.get(f"/annotations/{job.job_id}/variants?{query}&size=500").get_data(as_text=True)
    matched = int(re.search(r'data-matched="(\d+)"', html).group(1))
    rows = api_rows(c, api_token(c), job.job_id, args)
    assert matched == len(rows)
    assert {f"{r['chrom']}:{r['pos']}" for r in rows} == want  # the same records as bcftools
    # Each row's genotype column is the sample's GT in the annotated VCF, and in its class.
    lines = [line.split("\t") for line in cohort.vcf.decode().splitlines() if not line.startswith("#")]
    for row in rows:
        fields = lines[row["record"]]
        cell = dict(zip(fields[8].split(":"), fields[9 + index].split(":"), strict=False))
        assert row["genotypes"][sample]["gt"] == cell["GT"]
        assert row["genotypes"][sample]["gq"] == (int(cell["GQ"]) if "GQ" in cell else None)
    assert f'<th scope="col" class="gas-genotype" data-sample="{sample}">' in html
    assert html.count(f'<td class="text-nowrap gas-genotype" data-sample="{sample}">') == min(500, matched)


def test_sample_filter_combines_with_other_filters_and_refuses_bad_values(sign_in, web_aws, cohort, api_token):
    c, user_id = sign_in()
    job = _store(web_aws, user_id, cohort)
    base = f"/annotations/{job.job_id}/variants"
    carriers = c.get(f"{base}?sample=NA19000&size=500").get_data(as_text=True)
    on_1 = c.get(f"{base}?sample=NA19000&chrom=1&size=500").get_data(as_text=True)
    assert (
        0
        < int(re.search(r'data-matched="(\d+)"', on_1).group(1))
        < int(re.search(r'data-matched="(\d+)"', carriers).group(1))
    )
    assert re.findall(r'data-record="(\d+)"', on_1)
    for query, parameter in [
        ("sample=NOBODY", "sample"),
        ("gt=het", "gt"),
        ("sample=NA19000&gt=maybe", "gt"),
        ("show=" + ",".join(SAMPLES[:11]), "show"),
        ("show=NOBODY", "sample"),
    ]:
        resp = c.get(f"{base}?{query}")
        assert resp.status_code == 400, query
        assert f'data-parameter="{parameter}"' in resp.get_data(as_text=True), query
        api = c.get(f"/api/v1/jobs/{job.job_id}/variants?{query}", headers=api_token(c))
        assert api.status_code == 422, query
    # The export takes the sample filter too, and is named after it.
    tsv = c.get(f"/annotations/{job.job_id}/variants.tsv?sample=NA19000&gt=hom_alt")
    assert tsv.status_code == 200 and "sample-NA19000.gt-hom_alt" in tsv.headers["Content-Disposition"]
    lines = tsv.get_data(as_text=True).splitlines()
    html = c.get(f"{base}?sample=NA19000&gt=hom_alt").get_data(as_text=True)
    assert len(lines) - 1 == int(re.search(r'data-matched="(\d+)"', html).group(1))


def test_per_sample_counts_page_through_a_chart_and_a_table(sign_in, web_aws, cohort):
    c, user_id = sign_in()
    job = _store(web_aws, user_id, cohort)
    page = c.get(f"/annotations/{job.job_id}")
    assert 'id="view-samples"' in page.get_data(as_text=True)
    counts = cohort.summary["sample_counts"]
    seen = []
    for n in range(1, 6):
        html = c.get(f"/annotations/{job.job_id}/samples?page={n}").get_data(as_text=True)
        assert 'id="chart-samples"' in html and 'data-pages="5"' in html
        rows = re.findall(r'<tr data-sample="([^"]+)">.*?<td class="text-end gas-variants">([\d,]+)</td>', html, re.S)
        assert 0 < len(rows) <= 25
        seen += [(name, int(v.replace(",", ""))) for name, v in rows]
    assert seen == list(zip(counts["names"], counts["variants"], strict=True))
    assert len(seen) == 107
    # Every sample's "carriers" link is the table filtered by it, with its genotype column.
    html = c.get(f"/annotations/{job.job_id}/samples?page=3").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" class="gas-carriers">', html).group(1).replace("&amp;", "&")
    assert "sample=" in link and "gt=carrier" in link and "show=" in link
    assert c.get(link).status_code == 200
    assert c.get(f"/annotations/{job.job_id}/samples?page=abc").status_code == 400
    # Another user's job, and a job whose file had no samples: 404.
    other, _ = sign_in()
    assert other.get(f"/annotations/{job.job_id}/samples").status_code == 404
    assert other.get(f"/api/v1/jobs/{job.job_id}/variants?sample=NA19000").status_code in (401, 404)


def test_a_job_without_samples_has_no_sample_page(sign_in, web_aws, cohort):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, cohort, name="cohort.vcf")  # no genotypes_key
    assert 'id="view-samples"' not in c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert c.get(f"/annotations/{job.job_id}/samples").status_code == 404
    resp = c.get(f"/annotations/{job.job_id}/variants?sample=NA19000")
    assert resp.status_code == 400 and "has no samples" in resp.get_data(as_text=True)
    assert json.loads(json.dumps(cohort.summary["sample_counts"]))["samples"] == 107
