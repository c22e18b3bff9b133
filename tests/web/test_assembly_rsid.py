"""A GRCh37 file with no header evidence, submitted as GRCh38: its rsIDs (column 3) sit at
their GRCh37 positions. The API, the upload form and the re-run button each ask before
annotating it, every time, and name the rsID evidence."""

from __future__ import annotations

from dataclasses import replace

import pytest
from api_support import bearer, create_token, problem, upload_through_api
from results_support import make_result, store_result
from web_support import csrf_token, upload, upload_form

from gas.core.jobs import JobStore

# Six known common variants at their GRCh37 positions (on GRCh38 they are elsewhere: e.g.
# rs180757940 is at 1:78,048,216).
RS37_VCF = (
    b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"1\t78513900\trs180757940\tT\tC\t.\tPASS\t.\n"
    b"1\t182923383\trs559085283\tG\tA\t.\tPASS\t.\n"
    b"2\t8669248\trs536387733\tC\tT\t.\tPASS\t.\n"
    b"2\t80704010\trs112534600\tG\tA\t.\tPASS\t.\n"
    b"2\t167305572\trs529726797\tT\tG\t.\tPASS\t.\n"
    b"3\t2555422\trs1382874\tT\tC\t.\tPASS\t.\n"
)
EVIDENCE = "rsIDs in column 3 are at their GRCh37 positions, not GRCh38"
COUNTS = "6 of 6 known rsIDs sit where GRCh37 has them, 0 where GRCh38 has them (first at line 3)"


@pytest.fixture(scope="module")
def result():
    return replace(make_result(records=10), vcf=RS37_VCF)


def test_the_api_asks_with_the_rsid_evidence(sign_in, client, web_aws):
    c, _ = sign_in()
    token = create_token(c)
    upload_id = upload_through_api(client, token, "rs37.vcf", RS37_VCF)
    for attempt in ("first", "second"):  # every time, not once per user or file
        asked = client.post(
            "/api/v1/jobs",
            json={"upload_id": upload_id, "assembly": "GRCh38"},
            headers={**bearer(token), "Idempotency-Key": attempt},
        )
        body = problem(asked, 409, "assembly-mismatch")
        assert body["detected_assembly"] == "GRCh37" and body["chosen_assembly"] == "GRCh38"
        assert EVIDENCE in body["reason"] and COUNTS in body["reason"]
    assert JobStore(web_aws).get(upload_id) is None
    # On the assembly its rsIDs point to: no question.
    ok = client.post("/api/v1/jobs", json={"upload_id": upload_id, "assembly": "GRCh37"}, headers=bearer(token))
    assert ok.status_code == 201 and ok.get_json()["assembly_warning"] is None


def test_the_upload_form_asks_with_the_rsid_evidence(sign_in):
    c, _ = sign_in()
    form = upload_form(c)
    form["fields"]["x-amz-meta-assembly"] = "GRCh38"
    _, path = upload(c, "rs37.vcf", RS37_VCF, form)
    for _ in range(2):
        asked = c.get(path)
        html = asked.get_data(as_text=True)
        assert asked.status_code == 409 and EVIDENCE in html and COUNTS in html
        assert "Annotate as GRCh37" in html


def test_the_rerun_button_asks_with_the_rsid_evidence(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, name="rs37.vcf")
    assert job.assembly == "GRCh37"
    token = csrf_token(c, f"/annotations/{job.job_id}")
    for _ in range(2):
        asked = c.post(f"/annotations/{job.job_id}/rerun", data={"csrf_token": token})
        html = asked.get_data(as_text=True)
        assert asked.status_code == 409 and EVIDENCE in html and COUNTS in html
    assert [j.job_id for j in JobStore(web_aws).list_for_user(user_id).jobs] == [job.job_id]  # nothing made
