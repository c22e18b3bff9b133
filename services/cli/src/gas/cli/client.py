"""A small client of GAS's /api/v1: bearer token, problem documents as ApiError, retries
where they are safe (reads, the idempotent job creation) and 429's Retry-After honoured."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import requests

from gas.cli import __version__

TIMEOUT = (10, 60)  # connect, read (seconds)
RETRIES = 3  # network errors and 502/503/504 (waits 0.5, 1, 2 s)
RATE_LIMIT_WAITS = 20  # 429s in a row before giving up
MAX_RETRY_AFTER = 60


@dataclass
class ApiError(Exception):
    """The API refused (a problem document) or could not be reached (status 0)."""

    status: int
    slug: str
    detail: str

    def __str__(self) -> str:
        return self.detail


def _problem(resp: requests.Response) -> ApiError:
    try:
        body = resp.json()
        slug = str(body.get("type", "")).rstrip("/").rsplit("/", 1)[-1] or "error"
        detail = str(body.get("detail") or body.get("title") or resp.reason)
    except ValueError:
        slug, detail = "error", f"{resp.status_code} {resp.reason}"
    return ApiError(resp.status_code, slug, detail)


class Client:
    def __init__(self, url: str, token: str, sleep: Callable[[float], None] = time.sleep):
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "User-Agent": f"gas-cli/{__version__}"})
        self._sleep = sleep

    def request(self, method: str, path: str, retry: bool = True, **kwargs: Any) -> requests.Response:
        """One API call. `retry`: repeat it on network errors and 502/503/504 (only for
        calls that are safe to repeat). 429 always waits for Retry-After and repeats:
        the server did nothing."""
        url = self.url + "/api/v1" + path
        failures = rate_limited = 0
        while True:
            try:
                resp = self.http.request(method, url, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                failures += 1
                if not retry or failures > RETRIES:
                    raise ApiError(0, "unreachable", f"cannot reach {self.url}: {exc}") from None
                self._sleep(min(2**failures * 0.25, 8))
                continue
            if resp.status_code == 429 and rate_limited < RATE_LIMIT_WAITS:
                rate_limited += 1
                self._sleep(min(float(resp.headers.get("Retry-After", "1")), MAX_RETRY_AFTER))
                continue
            if resp.status_code in (502, 503, 504) and retry and failures < RETRIES:
                failures += 1
                self._sleep(min(2**failures * 0.25, 8))
                continue
            if resp.status_code >= 400:
                raise _problem(resp)
            return resp

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    # -- operations ---------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        return dict(self.get("/me"))

    def jobs(self, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        return dict(self.get("/jobs", limit=limit, cursor=cursor))

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.get(f"/jobs/{job_id}"))

    def log(self, job_id: str) -> dict[str, Any]:
        return dict(self.get(f"/jobs/{job_id}/log"))

    def result(self, job_id: str) -> dict[str, Any]:
        return dict(self.get(f"/jobs/{job_id}/result"))

    def variants(self, job_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.get(f"/jobs/{job_id}/variants", **params))

    def delete(self, job_id: str) -> None:
        self.request("DELETE", f"/jobs/{job_id}")

    def filters(self) -> list[dict[str, Any]]:
        return list(self.get("/filters")["filters"])

    def save_filter(self, name: str, query: str) -> dict[str, Any]:
        return dict(self.request("POST", "/filters", json={"name": name, "query": query}).json())

    def delete_filter(self, filter_id: str) -> None:
        self.request("DELETE", f"/filters/{filter_id}")

    def rename(self, job_id: str, name: str | None) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/jobs/{job_id}", json={"name": name}).json())

    def cancel(self, job_id: str) -> dict[str, Any]:
        # Safe to repeat: cancelling a CANCELLED job answers it again.
        return dict(self.request("POST", f"/jobs/{job_id}/cancel").json())

    def create_upload(self, file_name: str, size: int) -> dict[str, Any]:
        # Safe to repeat: an unused presigned form changes nothing.
        return dict(self.request("POST", "/uploads", json={"file_name": file_name, "size": size}).json())

    def databases(self) -> list[dict[str, Any]]:
        return list(self.get("/databases")["databases"])

    def create_job(
        self,
        upload_id: str,
        name: str | None,
        assembly: str,
        assembly_confirmed: bool = False,
        database: str | None = None,
    ) -> dict[str, Any]:
        # One Idempotency-Key for every try of this call: a retry never makes a second job.
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        body: dict[str, Any] = {"upload_id": upload_id, "assembly": assembly, **({"name": name} if name else {})}
        if assembly_confirmed:
            body["assembly_confirmed"] = True
        if database:  # unset: the genes-only database of `assembly` (what older servers know)
            body["database"] = database
        return dict(self.request("POST", "/jobs", json=body, headers=headers).json())


# -- transfers straight to and from storage (presigned, no bearer token) -------------------
class MultipartFile:
    """A multipart/form-data body read from disk as it is sent: the form's fields, then
    the file (as `file`, last, as S3 requires), reporting bytes sent to `progress`."""

    CHUNK = 256 * 1024

    def __init__(
        self, fields: dict[str, str], file_name: str, stream: IO[bytes], size: int, progress: Callable[[int], None]
    ):
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._parts: Iterator[bytes] = self._chunks(head, stream, f"\r\n--{self.boundary}--\r\n".encode())
        self._length = len(head) + size + len(f"\r\n--{self.boundary}--\r\n")
        self._progress = progress
        self._buffer = b""

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _chunks(self, head: bytes, stream: IO[bytes], tail: bytes) -> Iterator[bytes]:
        yield head
        while chunk := stream.read(self.CHUNK):
            self._progress(len(chunk))
            yield chunk
        yield tail

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._buffer += part
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def send_file(upload: dict[str, Any], path: str, size: int, progress: Callable[[int], None]) -> None:
    """POST the file to storage with the upload's presigned form."""
    with open(path, "rb") as stream:
        body = MultipartFile(upload["fields"], upload["file_name"], stream, size, progress)
        try:
            resp = requests.post(upload["url"], data=body, headers={"Content-Type": body.content_type}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ApiError(0, "unreachable", f"cannot reach storage: {exc}") from None
    if resp.status_code >= 300:
        raise ApiError(resp.status_code, "upload-refused", f"storage refused the upload ({resp.status_code})")


def fetch(url: str, out: IO[bytes], progress_bar: Callable[[int], Any]) -> None:
    """GET a presigned URL into `out`; `progress_bar(total bytes)` makes the bar to update."""
    try:
        with requests.get(url, stream=True, timeout=TIMEOUT) as resp:
            if resp.status_code != 200:
                raise ApiError(resp.status_code, "download-failed", f"storage answered {resp.status_code}")
            with progress_bar(int(resp.headers.get("Content-Length", 0))) as bar:
                for chunk in resp.iter_content(256 * 1024):
                    out.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as exc:
        raise ApiError(0, "unreachable", f"cannot reach storage: {exc}") from None
