"""Where the model comes from: a local folder, or the environment's bucket (`MODEL_URI`).

    (unset)                                   the model baked into the image (app/model/)
    /srv/model  or  file:///srv/model         a local folder
    s3://BUCKET/models/digits/v1/             AWS S3            (needs boto3)
    gs://BUCKET/models/digits/v1/             Google Cloud      (needs google-cloud-storage)
    az://ACCOUNT/CONTAINER/models/digits/v1/  Azure Blob        (needs azure-storage-blob, azure-identity)

Bucket URIs must point under `models/`: the serving identity may read that prefix only, and
that prefix is never moved to a cold tier (see components/spec.py). Cloud SDKs are imported on
first use, so the image needs only the one its cloud uses. Credentials come from the platform
(task role, service account, managed identity); nothing here takes a secret.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from app import MODEL_DIR
from app.model import CARD_FILE, SAMPLE_FILE, WEIGHTS_FILE, ModelError

MODEL_PREFIX = "models/"
CLOUD_SCHEMES = ("s3", "gs", "az")
# The sample is optional in a bucket: without it the bundled one is used (see DigitsModel.self_test).
REQUIRED_FILES = (CARD_FILE, WEIGHTS_FILE)
_SDK = {"s3": "boto3", "gs": "google-cloud-storage", "az": "azure-storage-blob and azure-identity"}


class StorageError(ModelError):
    """MODEL_URI is malformed, its SDK is missing, or the objects cannot be read."""


@dataclass(frozen=True)
class ModelLocation:
    scheme: str  # "file", "s3", "gs" or "az"
    bucket: str = ""  # bucket, or Azure container
    prefix: str = ""  # object-key prefix ending in "/", or the local folder
    account: str = ""  # Azure storage account only

    def key(self, name: str) -> str:
        return self.prefix + name


def parse_model_uri(uri: str | None) -> ModelLocation:
    if not uri:
        return ModelLocation("file", prefix=str(MODEL_DIR))
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return ModelLocation("file", prefix=unquote(parsed.path) if parsed.scheme else uri)
    if parsed.scheme not in CLOUD_SCHEMES:
        raise StorageError(f"MODEL_URI {uri!r}: scheme must be one of file, {', '.join(CLOUD_SCHEMES)}")
    path = parsed.path.lstrip("/")
    account = ""
    if parsed.scheme == "az":
        account, (container, _, path) = parsed.netloc, path.partition("/")
    else:
        container = parsed.netloc
    if not container or (parsed.scheme == "az" and not account):
        form = "az://ACCOUNT/CONTAINER/models/..." if parsed.scheme == "az" else f"{parsed.scheme}://BUCKET/models/..."
        raise StorageError(f"MODEL_URI {uri!r}: expected {form}")
    if not path.startswith(MODEL_PREFIX):
        raise StorageError(f"MODEL_URI {uri!r}: the object path must start with {MODEL_PREFIX!r}")
    prefix = path if path.endswith("/") else path + "/"
    return ModelLocation(parsed.scheme, bucket=container, prefix=prefix, account=account)


def _missing_sdk(scheme: str, exc: ImportError) -> StorageError:
    return StorageError(f"reading {scheme}:// models needs {_SDK[scheme]}; pip install it ({exc})")


def _s3_reader(loc: ModelLocation) -> Callable[[str, Path], None]:
    try:
        import boto3
    except ImportError as exc:
        raise _missing_sdk("s3", exc) from None
    client = boto3.client("s3")
    return lambda key, dest: client.download_file(loc.bucket, key, str(dest))


def _gs_reader(loc: ModelLocation) -> Callable[[str, Path], None]:
    try:
        from google.cloud import storage
    except ImportError as exc:
        raise _missing_sdk("gs", exc) from None
    bucket = storage.Client().bucket(loc.bucket)
    return lambda key, dest: bucket.blob(key).download_to_filename(str(dest))


def _az_reader(loc: ModelLocation) -> Callable[[str, Path], None]:
    try:
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import BlobServiceClient
    except ImportError as exc:
        raise _missing_sdk("az", exc) from None
    service = BlobServiceClient(f"https://{loc.account}.blob.core.windows.net", credential=DefaultAzureCredential())
    container = service.get_container_client(loc.bucket)

    def read(key: str, dest: Path) -> None:
        dest.write_bytes(container.download_blob(key).readall())

    return read


_READERS = {"s3": _s3_reader, "gs": _gs_reader, "az": _az_reader}


def fetch_model(uri: str | None, cache_dir: Path | None = None) -> Path:
    """Resolve MODEL_URI to a local folder holding the model files, downloading if needed."""
    loc = parse_model_uri(uri)
    if loc.scheme == "file":
        folder = Path(loc.prefix)
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise StorageError(f"model folder {folder} lacks {', '.join(missing)}")
        return folder
    read = _READERS[loc.scheme](loc)
    dest = Path(cache_dir or os.environ.get("MODEL_CACHE_DIR") or tempfile.mkdtemp(prefix="mlinfra-model-"))
    dest.mkdir(parents=True, exist_ok=True)
    source = f"{loc.scheme}://{loc.account + '/' if loc.account else ''}{loc.bucket}/{loc.prefix}"
    for name in (*REQUIRED_FILES, SAMPLE_FILE):
        try:
            read(loc.key(name), dest / name)
        except Exception as exc:  # each SDK has its own error tree; all mean "cannot read"
            if name in REQUIRED_FILES:
                raise StorageError(f"cannot read {source}{name}: {type(exc).__name__}: {exc}") from None
            (dest / name).unlink(missing_ok=True)
    return dest


def sample_for(folder: Path) -> Path:
    """The self-test sample beside the model if there is one, else the bundled one."""
    own = folder / SAMPLE_FILE
    return own if own.is_file() else MODEL_DIR / SAMPLE_FILE
