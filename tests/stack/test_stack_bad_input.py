"""Bad input through the real paths: each gets a clear message and nothing is left half-done."""

import gzip
import re

import pytest
from stack_support import User, job_id_of, sample


def _inputs(stack_aws, bucket_prefix):
    s3 = stack_aws("s3")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=f"{bucket_prefix}-inputs").get("Contents", [])]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("binary.vcf", bytes(range(256)) * 8, r"line 1"),
        (
            "columns.vcf",
            b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t100\t.\tA\n",
            r"line 3",
        ),
        (
            "pos.vcf",
            b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tabc\t.\tA\tG\t.\t.\t.\n",
            r"line 3",
        ),
        ("cut.vcf.gz", gzip.compress(sample("free_1.vcf"))[:4000], r"(truncated|cut short|end of)"),
    ],
)
def test_malformed_vcf_fails_with_the_line_number(user, name, content, message):
    job = user.wait_finished(job_id_of(user.submit(name, content)))
    assert job["status"] == "FAILED"
    assert re.search(message, job["error"], re.I), job["error"]
    page = user.get(f"/annotations/{job['job_id']}")
    assert job["error"].split(":")[0] in page.text
    assert user.get(f"/annotations/{job['job_id']}/download", allow_redirects=False).status_code == 409


# The presigned policy's content-length-range makes AWS S3 refuse these uploads itself;
# moto server does not enforce POST policies, so locally the web app's own size check
# (the same one that backs up S3 in production) is what refuses them.
@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("empty.vcf", b"", 400, "empty"),
        ("premium_1.vcf", sample("premium_1.vcf"), 413, "free accounts may upload at most"),  # 176 KB > 150 KB
    ],
)
def test_empty_or_oversized_file_is_refused_before_any_job_exists(
    stack, user, stack_aws, name, content, status, message
):
    form = user.upload_form()
    s3 = user.post_to_s3(form, name, content)
    page = user.http.get(s3.headers["Location"], timeout=30)
    assert page.status_code == status and message in page.text
    assert user.job_ids() == []
    prefix = form["fields"]["key"].split("~")[0]
    assert not [k for k in _inputs(stack_aws, stack.prefix) if k.startswith(prefix)]


def test_upload_policy_limits_size_by_tier(user):
    import base64
    import json

    policy = json.loads(base64.b64decode(user.upload_form()["fields"]["policy"]))
    ranges = [c for c in policy["conditions"] if isinstance(c, list) and c[0] == "content-length-range"]
    assert ranges == [["content-length-range", 1, 150 * 1024]]


@pytest.mark.parametrize("name", ["../../etc/passwd.vcf", "<script>alert(1)</script>.vcf"])
def test_unsafe_file_names_are_refused_and_the_upload_removed(stack, user, stack_aws, name):
    form = user.upload_form()
    s3 = user.post_to_s3(form, name, sample("test.vcf"))
    page = user.http.get(s3.headers["Location"], timeout=30)
    assert page.status_code == 400 and "<script>alert(1)</script>" not in page.text
    assert "file name" in page.text
    assert user.job_ids() == []
    assert not [k for k in _inputs(stack_aws, stack.prefix) if k.startswith(form["fields"]["key"].split("~")[0])]


def test_replayed_job_creation_url_makes_one_job(user):
    form = user.upload_form()
    s3 = user.post_to_s3(form, "test.vcf", sample("test.vcf"))
    first = user.http.get(s3.headers["Location"], timeout=30)
    second = user.http.get(s3.headers["Location"], timeout=30)
    assert job_id_of(first) == job_id_of(second)
    assert len(user.job_ids()) == 1
    assert user.wait_finished(job_id_of(first))["status"] == "COMPLETED"


def test_another_users_job_is_not_found_on_every_route(stack, user):
    job_id = job_id_of(user.submit("test.vcf", sample("test.vcf")))
    other = User(stack.url).sign_in()
    for path in (
        f"/annotations/{job_id}",
        f"/annotations/{job_id}/log",
        f"/annotations/{job_id}/download",
        f"/api/annotations/{job_id}",
    ):
        assert other.get(path, allow_redirects=False).status_code == 404, path
    assert job_id not in other.get("/annotations").text


def test_post_without_csrf_token_is_refused(stack):
    fresh = User(stack.url)
    resp = fresh.http.post(f"{stack.url}/auth/local", data={"name": "Mallory", "email": "m@example.org"}, timeout=30)
    assert resp.status_code == 400 and "CSRF" in resp.text
    assert fresh.get("/profile", allow_redirects=False).status_code in (302, 303)
