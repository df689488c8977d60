"""Real storage emulators on loopback, started and stopped by pytest fixtures.

    s3_emulator     moto in server mode (ThreadedMotoServer), a real S3 HTTP endpoint
    gcs_emulator    gcp-storage-emulator, the GCS JSON/XML API over HTTP
    azurite         Azurite's blob service (npm package, installed by `make test` into tests/azurite/)

Each server fixture is session-scoped (one start per run) and binds port 0, so parallel runs
and busy ports never collide. The `*_store` fixtures give each test a fresh bucket and point
the SDKs at the emulator through their documented settings only (AWS_ENDPOINT_URL,
STORAGE_EMULATOR_HOST, AZURE_STORAGE_CONNECTION_STRING), with HOME-independent credentials,
so nothing is read from this machine's ~/.aws, gcloud or az configuration.

Import the fixtures into a test module or conftest: `from tests.emulators import s3_store`.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import stop

AZURITE_DIR = Path(__file__).resolve().parent / "azurite"
AZURITE_BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
# Azurite's fixed development account and key, published in its README ("Default Storage Account").
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_names = itertools.count()


def _unique(stem: str) -> str:
    # S3 bucket names: 3-63 lowercase letters, digits, hyphens (also valid for GCS and Azure containers).
    return f"{stem}-{os.getpid()}-{next(_names)}"


@dataclass
class Store:
    """One fresh bucket on one emulator; `uri(path)` is what MODEL_URI would hold."""

    scheme: str
    bucket: str
    account: str = ""

    def uri(self, path: str = "models/digits/current/") -> str:
        account = f"{self.account}/" if self.account else ""
        return f"{self.scheme}://{account}{self.bucket}/{path}"


def _isolate_cloud_config(monkeypatch, tmp_path: Path) -> None:
    """No SDK may read this machine's profiles, tokens or endpoints."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe 169.254.169.254


# --- S3: moto server ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_emulator():
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed: pip install -e '.[dev]'")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_emulator, monkeypatch, tmp_path) -> Store:
    _isolate_cloud_config(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_emulator)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import boto3

    bucket = _unique("digits-models")
    boto3.client("s3").create_bucket(Bucket=bucket)
    return Store("s3", bucket)


@pytest.fixture
def s3_enforces_auth(s3_store, monkeypatch):
    """moto checks signatures only once this many unauthenticated calls have been made; 0 = always.
    Any access key is then unknown to its IAM, as a wrong or revoked key is to AWS."""
    from moto import settings

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    return s3_store


# --- GCS: gcp-storage-emulator ----------------------------------------------------------------

@pytest.fixture(scope="session")
def gcs_emulator():
    emulator = pytest.importorskip("gcp_storage_emulator.server",
                                   reason="gcp-storage-emulator is not installed: pip install -e '.[dev]'")
    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
    server = emulator.create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    host, port = server._api._httpd.server_address[:2]  # port 0: the bound port is only known here
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def gcs_store(gcs_emulator, monkeypatch, tmp_path) -> Store:
    _isolate_cloud_config(monkeypatch, tmp_path)
    # google-cloud-storage: with STORAGE_EMULATOR_HOST set, the client talks to it with anonymous credentials.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    from google.cloud import storage

    bucket = _unique("digits-models")
    storage.Client().create_bucket(bucket)
    return Store("gs", bucket)


# --- Azure Blob: Azurite --------------------------------------------------------------------

def _azurite_binary() -> Path | None:
    if AZURITE_BIN.is_file():
        return AZURITE_BIN
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    binary = _azurite_binary()
    if binary is None or shutil.which("node") is None:
        pytest.skip(f"Azurite is not installed ({AZURITE_BIN} missing or no node on PATH): run `make test`,"
                    " which installs it with `npm ci --prefix tests/azurite`")
    workspace = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [str(binary), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--disableTelemetry",
         "--silent", "--skipApiVersionCheck"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workspace)
    url, seen = None, []
    # Port 0: Azurite prints the port it bound. Reading stops at that line or when it exits.
    for line in process.stdout:
        seen.append(line.rstrip())
        match = re.search(r"listens on (http://\S+)", line)
        if match:
            url = match.group(1).rstrip("/")
            break
    if url is None:
        process.kill()
        raise RuntimeError("Azurite did not start: " + " | ".join(seen[-5:]))
    # Keep draining its output so a full pipe can never block it.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    yield url
    stop(process)


def azurite_connection_string(url: str, key: str = AZURITE_KEY) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={url}/{AZURITE_ACCOUNT};")


@pytest.fixture
def az_store(azurite, monkeypatch, tmp_path) -> Store:
    _isolate_cloud_config(monkeypatch, tmp_path)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(azurite))
    from azure.storage.blob import BlobServiceClient

    container = _unique("digits-models")
    BlobServiceClient.from_connection_string(azurite_connection_string(azurite)).create_container(container)
    return Store("az", container, account=AZURITE_ACCOUNT)


@pytest.fixture(params=["s3", "gs", "az"])
def store(request) -> Store:
    """Each scheme in turn, against its emulator."""
    return request.getfixturevalue(f"{request.param.replace('gs', 'gcs')}_store")


def upload_folder(store: Store, folder: Path, prefix: str = "models/digits/current/") -> None:
    """Put a model folder's files under a prefix with the SDK directly (the test's own setup)."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if store.scheme == "s3":
        import boto3

        client = boto3.client("s3")
        for path in files:
            client.upload_file(str(path), store.bucket, prefix + path.name)
    elif store.scheme == "gs":
        from google.cloud import storage

        bucket = storage.Client().bucket(store.bucket)
        for path in files:
            bucket.blob(prefix + path.name).upload_from_filename(str(path))
    else:
        from azure.storage.blob import BlobServiceClient

        container = BlobServiceClient.from_connection_string(
            os.environ["AZURE_STORAGE_CONNECTION_STRING"]).get_container_client(store.bucket)
        for path in files:
            container.upload_blob(prefix + path.name, path.read_bytes(), overwrite=True)


def list_keys(store: Store, prefix: str = "models/") -> list[str]:
    """The object keys under a prefix, sorted, read with the SDK directly."""
    if store.scheme == "s3":
        import boto3

        listing = boto3.client("s3").list_objects_v2(Bucket=store.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))
    if store.scheme == "gs":
        from google.cloud import storage

        return sorted(blob.name for blob in storage.Client().list_blobs(store.bucket, prefix=prefix))
    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"]).get_container_client(store.bucket)
    return sorted(blob.name for blob in container.list_blobs(name_starts_with=prefix))
