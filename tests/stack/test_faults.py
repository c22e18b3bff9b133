"""Faults on the queue path: a poison message and a worker killed in the middle of a job."""

import signal
import time

from stack_support import User, aws_clients, job_id_of, sample


def _on(stack):
    """A signed-in user and boto3 clients on this module's own stack (faults_stack)."""
    return User(stack.url).sign_in(), aws_clients(stack)


def _emails_sent(stack_aws) -> int:
    return int(stack_aws("ses").get_send_quota()["SentLast24Hours"])


def _queue_url(stack_aws, name):
    return stack_aws("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def test_poison_message_is_dead_lettered_and_the_next_job_runs(faults_stack):
    stack = faults_stack
    user, stack_aws = _on(stack)
    sqs = stack_aws("sqs")
    sqs.send_message(QueueUrl=_queue_url(stack_aws, f"{stack.prefix}-annotate"), MessageBody="{not json")
    job = user.wait_finished(job_id_of(user.submit("test.vcf", sample("test.vcf"))))
    assert job["status"] == "COMPLETED"
    dlq = _queue_url(stack_aws, f"{stack.prefix}-annotate-dlq")
    deadline = time.monotonic() + 20
    bodies = []
    while "{not json" not in bodies and time.monotonic() < deadline:
        bodies += [m["Body"] for m in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])]
    assert "{not json" in bodies


def _premium(stack_aws, stack, user_email):
    ddb = stack_aws("dynamodb")
    table = f"{stack.prefix}-users"
    (item,) = [i for i in ddb.scan(TableName=table)["Items"] if i["email"]["S"] == user_email]
    ddb.update_item(
        TableName=table,
        Key={"user_id": item["user_id"]},
        UpdateExpression="SET tier = :p",
        ExpressionAttributeValues={":p": {"S": "premium"}},
    )
    return item["user_id"]["S"]


def _big_vcf(variants: int) -> bytes:
    header = "##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    bases = "ACGT"
    rows = (f"1\t{1_000_000 + 7 * i}\t.\t{bases[i % 4]}\t{bases[(i + 1) % 4]}\t50\tPASS\t.\n" for i in range(variants))
    return (header + "".join(rows)).encode()


def test_worker_killed_mid_job_completes_after_redelivery_with_one_result(faults_stack):
    stack = faults_stack
    user, stack_aws = _on(stack)
    user_id = _premium(stack_aws, stack, user.email)
    time.sleep(1)  # let earlier jobs' emails go out first
    emails_before = _emails_sent(stack_aws)
    annotator = stack.procs["annotator"]
    annotator.send_signal(signal.SIGSTOP)  # hold the job until we watch it start
    job_id = job_id_of(user.submit("big.vcf", _big_vcf(400_000)))
    ddb = stack_aws("dynamodb")
    annotator.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 30
    while True:
        item = ddb.get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}}, ConsistentRead=True)[
            "Item"
        ]
        if item["status"]["S"] == "RUNNING":
            break
        assert item["status"]["S"] == "PENDING" and time.monotonic() < deadline, item
        time.sleep(0.01)
    annotator.kill()
    annotator.wait()
    stack.start_worker("annotator")

    job = user.wait_finished(job_id, timeout=120)
    assert job["status"] == "COMPLETED", job
    item = ddb.get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
    assert int(item["attempt"]["N"]) == 2
    keys = [
        o["Key"]
        for o in stack_aws("s3").list_objects_v2(Bucket=f"{stack.prefix}-results", Prefix=f"{user_id}/{job_id}/")[
            "Contents"
        ]
    ]
    names = sorted(k.rsplit("/", 1)[1] for k in keys)
    assert names == ["big.annot.vcf", "big.count.log", "big.summary.json", "big.variants.parquet"]
    deadline = time.monotonic() + 20
    while _emails_sent(stack_aws) == emails_before and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # a second email, if there were one, would arrive now
    assert _emails_sent(stack_aws) - emails_before == 1
