"""The API against its own OpenAPI document (issue 22): schemathesis, a third-party fuzzer,
writes requests from `/api/v1/openapi.json` (valid and invalid ones, 25 per operation),
sends them to gas-web under gunicorn over HTTP with a personal access token, and runs all
of its checks on every answer: no 5xx; status codes, content types, headers and bodies as
the document declares; schema-valid requests accepted and invalid ones refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from siteclient import User
from web_ops_support import local_gunicorn_web
from web_support import SECRET

from gas.web.auth import local_user_id

EXAMPLES = 15  # per operation (the review ran 25; fewer keep this test near a minute)
# What the document cannot say in JSON Schema, per operation, so schemathesis takes it as
# an answer to a schema-valid request (each is stated in the document's descriptions):
#   414 anywhere: a request line over gunicorn's limit, refused before the app (declared);
#   413 on POST /uploads: a size over this user's tier limit (it depends on the user);
#   422 on POST /jobs: an Idempotency-Key reused for another body (a rule across requests);
#   422 on GET .../variants: rules across parameters (a range needs `chrom`, `end` not
#       before `start`, a cursor belongs to its sort order);
#   422 on POST /filters: the query is parsed as the variant table parses it, and the name
#       is bounded after its spaces are collapsed.
# GET /jobs gets a real cursor of the user's (cursors are opaque, issued per user); the job
# operations get the user's completed job (a random id is only ever a 404), DELETE another.
POSITIVE = ["2XX", "401", "403", "404", "409", "414", "429"]
ALSO_POSITIVE = {  # per operation, the answer above
    "POST /api/v1/uploads": "413",
    "POST /api/v1/jobs": "422",
    "GET /api/v1/jobs/{job_id}/variants": "422",
    "POST /api/v1/filters": "422",
}
CONFIG = (
    f"""
[parameters]
job_id = "JOB"

[checks.positive_data_acceptance]
expected-statuses = {POSITIVE}
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429"]
"""
    + "".join(
        f'\n[[operations]]\ninclude-name = "{name}"\n'
        f"checks.positive_data_acceptance.expected-statuses = {[*POSITIVE, status]}\n"
        for name, status in ALSO_POSITIVE.items()
    )
    + """
[[operations]]
include-name = "GET /api/v1/jobs"
parameters = { cursor = "CURSOR" }

[[operations]]
include-name = "DELETE /api/v1/jobs/{job_id}"
parameters = { job_id = "DOOMED" }
"""
)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def schema_web(web_aws, moto_url, tmp_path_factory):
    """gas-web under gunicorn with the local sign-in and a rate limit the run does not reach."""
    work = tmp_path_factory.mktemp("schema-web")
    with local_gunicorn_web(web_aws, moto_url, SECRET, work, GAS_API_RATE_LIMIT="1000000") as server:
        yield server


def _token(user: User) -> str:
    """A personal access token made on the profile page, as a user does."""
    resp = user.http.post(
        user.base + "/profile/tokens",
        data={"csrf_token": user.csrf_token("/profile"), "name": "fuzz", "scopes": ["read", "submit"], "days": "7"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return re.search(r'id="new-token">([^<]+)<', resp.text).group(1)


def test_api_conforms_to_its_openapi_document(schema_web, web_aws, tmp_path):
    from results_support import make_result, store_result

    user = User(schema_web.url).sign_in()
    job, doomed = (store_result(web_aws, local_user_id(user.email), make_result(records=40)) for _ in range(2))
    token = _token(user)
    listed = user.http.get(f"{schema_web.url}/api/v1/jobs?limit=1", headers={"Authorization": f"Bearer {token}"})
    cursor = listed.json()["next_cursor"]
    assert cursor
    config = CONFIG.replace("CURSOR", cursor).replace("DOOMED", doomed.job_id).replace("JOB", job.job_id)
    (tmp_path / "schemathesis.toml").write_text(config)
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{schema_web.url}/api/v1/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "22",
            "--header",
            f"Authorization: Bearer {token}",
            "--workers",
            "1",
            "--no-color",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


def test_the_document_declares_what_the_server_enforces(client):
    """The review's schema-valid requests the server refused (issue 22) are now outside the
    schema, or their answers declared."""
    doc = client.get("/api/v1/openapi.json").get_json()
    variants = doc["paths"]["/api/v1/jobs/{job_id}/variants"]["get"]
    params = {p["name"]: p["schema"] for p in variants["parameters"]}

    def bound(schema: dict, key: str) -> int:
        return next(s[key] for s in [schema, *schema.get("anyOf", [])] if key in s)

    assert bound(params["end"], "minimum") == 1 and bound(params["start"], "minimum") == 1
    assert bound(params["size"], "minimum") == 1 and bound(params["offset"], "minimum") == 0
    upload = doc["components"]["schemas"]["UploadRequest"]["properties"]["file_name"]
    assert re.fullmatch(upload["pattern"], "sample.vcf.gz") and not re.fullmatch(upload["pattern"], "0")
    assert "413" in doc["paths"]["/api/v1/uploads"]["post"]["responses"]
    assert all("414" in op["responses"] for path in doc["paths"].values() for op in path.values() if "security" in op)
