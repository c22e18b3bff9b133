"""Bad input through the real paths: each gets a clear message and nothing is left half-done."""

import gzip
import re

import pytest

from stack_helpers import User, job_id_of, sample


def _inputs(stack_aws, bucket_prefix):
    s3 = stack_aws("s3")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=f"{bucket_prefix}-inputs").get("Contents", [])]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("binary.vcf", bytes(range(256)) * 8, r"line 1"),
        ("columns.vcf", b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t100\t.\tA\n", r"line 3"),
        ("pos.vcf", b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tabc\t.\tA\tG\t.\t.\t.\n", r"line 3"),
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


def test_empty_file_is_refused_before_any_job_exists(stack, user, stack_aws):
    resp = user.post_to_s3(user.upload_form(), "empty.vcf", b"")
    # The presigned policy's content-length-range starts at 1 byte: S3 itself refuses.
    assert resp.status_code == 400 and "EntityTooSmall" in resp.text
    assert user.get("/api/annotations").json()["jobs"] == []


def test_oversized_file_for_a_free_user_is_refused_before_any_job_exists(stack, user):
    big = sample("premium_1.vcf")  # 176 KB > the free 150 KB
    resp = user.post_to_s3(user.upload_form(), "premium_1.vcf", big)
    assert resp.status_code == 400 and "EntityTooLarge" in resp.text
    assert user.get("/api/annotations").json()["jobs"] == []


@pytest.mark.parametrize("name", ["../../etc/passwd.vcf", "<script>alert(1)</script>.vcf"])
def test_unsafe_file_names_are_refused_and_the_upload_removed(stack, user, stack_aws, name):
    form = user.upload_form()
    s3 = user.post_to_s3(form, name, sample("test.vcf"))
    page = user.http.get(s3.headers["Location"], timeout=30)
    assert page.status_code == 400 and "<script>alert(1)</script>" not in page.text
    assert "file name" in page.text
    assert user.get("/api/annotations").json()["jobs"] == []
    assert not [k for k in _inputs(stack_aws, stack.prefix) if k.startswith(form["fields"]["key"].split("~")[0])]


def test_replayed_job_creation_url_makes_one_job(user):
    form = user.upload_form()
    s3 = user.post_to_s3(form, "test.vcf", sample("test.vcf"))
    first = user.http.get(s3.headers["Location"], timeout=30)
    second = user.http.get(s3.headers["Location"], timeout=30)
    assert job_id_of(first) == job_id_of(second)
    assert len(user.get("/api/annotations").json()["jobs"]) == 1
    assert user.wait_finished(job_id_of(first))["status"] == "COMPLETED"


def test_another_users_job_is_not_found_on_every_route(stack, user):
    job_id = job_id_of(user.submit("test.vcf", sample("test.vcf")))
    other = User(stack.url).sign_in()
    for path in (f"/annotations/{job_id}", f"/annotations/{job_id}/log", f"/annotations/{job_id}/download", f"/api/annotations/{job_id}"):
        assert other.get(path, allow_redirects=False).status_code == 404, path
    assert job_id not in other.get("/annotations").text


def test_post_without_csrf_token_is_refused(stack):
    fresh = User(stack.url)
    resp = fresh.http.post(f"{stack.url}/auth/local", data={"name": "Mallory", "email": "m@example.org"}, timeout=30)
    assert resp.status_code == 400 and "CSRF" in resp.text
    assert fresh.get("/profile", allow_redirects=False).status_code in (302, 303)
