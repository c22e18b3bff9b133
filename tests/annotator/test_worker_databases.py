"""The annotator annotates with the database a job names (moto server over HTTP): a bundle
deployed in its database directory (built by gas-annotation-db from a generated gene model),
recorded with its sources on the job; a bundle that is no longer deployed fails the job
with the names that are."""

from __future__ import annotations

import json
import uuid

import pytest
from deployed_bundle import DeployedBundle, deploy_bundle

from gas.annotator.worker import Annotator, AnnotatorSettings
from gas.core.job_record import Job
from gas.core.jobs import JobStore


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> DeployedBundle:
    return deploy_bundle(tmp_path_factory.mktemp("deployed"))


def _job(aws, bundle: DeployedBundle, database: str) -> Job:
    s3 = aws.client("s3")
    user_id, job_id = f"user-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    bucket, key = aws.names.inputs_bucket, f"{user_id}/{job_id}~tx.vcf"
    body = bundle.vcf.read_bytes()
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
    job = Job(
        job_id=job_id,
        user_id=user_id,
        input_file_name="tx.vcf",
        input_bucket=bucket,
        input_key=key,
        input_size=len(body),
        input_etag=etag,
        submitted_at="2026-12-07T00:00:00Z",
        database=database,
    )
    assert JobStore(aws).create(job)
    return job


def test_a_job_is_annotated_with_the_bundle_it_names(provisioned, bundle, tmp_path):
    settings = AnnotatorSettings(scratch_dir=tmp_path, annotation_db_dir=bundle.db_dir, metrics_port=0)
    job = _job(provisioned, bundle, bundle.name)
    Annotator(settings, provisioned).handle(job.job_id, job.user_id, "message-1")
    done = JobStore(provisioned).get(job.job_id)
    assert done.status == "COMPLETED", done.error
    manifest = json.loads((bundle.db_dir / f"gas-bundle-{bundle.name}-v2.manifest.json").read_text())
    assert done.database_version == f"bundle-{bundle.name}-v2"
    assert manifest["source"]["gene_model"]["sha256"] in done.database_sources
    assert manifest["source"]["fasta"]["sha256"] in done.database_sources
    text = provisioned.client("s3").get_object(Bucket=done.result_bucket, Key=done.result_key)["Body"].read()
    assert b"##INFO=<ID=CSQ," in text and b"missense_variant" in text


def test_a_bundle_no_longer_deployed_fails_the_job_naming_those_that_are(provisioned, bundle, db_dir, tmp_path):
    settings = AnnotatorSettings(scratch_dir=tmp_path, annotation_db_dir=db_dir, metrics_port=0)
    job = _job(provisioned, bundle, "removed-bundle")
    Annotator(settings, provisioned).handle(job.job_id, job.user_id, "message-1")
    done = JobStore(provisioned).get(job.job_id)
    assert done.status == "FAILED" and done.result_key is None
    assert done.error.startswith("Unknown database 'removed-bundle'; this deployment has: GRCh37, GRCh38")
