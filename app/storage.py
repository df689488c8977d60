"""Where the model comes from: a local folder, or the environment's bucket (`MODEL_URI`).

    (unset)                                   the model baked into the image (app/model/)
    /srv/model  or  file:///srv/model         a local folder
    s3://BUCKET/models/digits/current/        AWS S3            (boto3)
    gs://BUCKET/models/digits/current/        Google Cloud      (google-cloud-storage)
    az://ACCOUNT/CONTAINER/models/digits/current/  Azure Blob   (azure-storage-blob, azure-identity)

Bucket URIs must point under `models/`: the serving identity may read that prefix only, and
that prefix is never moved to a cold tier (see components/spec.py and components/release.py).
Cloud SDKs are imported on first use. Credentials come from each SDK's own default chain (task
role, service account, managed identity with AZURE_CLIENT_ID); nothing here takes a secret.
Each SDK's documented endpoint override points it at an emulator or a private endpoint:
AWS_ENDPOINT_URL(_S3) for boto3, STORAGE_EMULATOR_HOST for google-cloud-storage, and
AZURE_STORAGE_CONNECTION_STRING (e.g. Azurite's) for Azure.

Every failure - malformed URI, missing SDK, missing object, refused credentials, unreachable
endpoint - is a StorageError (a ModelError) with one line naming the object and the cause, so
the service reports "not ready" with that line instead of crashing and restarting in a loop.
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
# Upload order: the card last, so a reader never sees a new card before the weights it describes.
PUBLISH_ORDER = (SAMPLE_FILE, WEIGHTS_FILE, CARD_FILE)
# The distributions each scheme's reader imports (the image installs its cloud's: requirements-<cloud>.txt).
SDK_PACKAGES = {"s3": ("boto3",), "gs": ("google-cloud-storage",), "az": ("azure-storage-blob", "azure-identity")}
# HTTP statuses every SDK's errors carry, in words a person can act on.
_STATUS_HINTS = {
    401: "the credentials were refused",
    403: "access denied: the credentials were refused or lack read access to this prefix",
    404: "no such object (publish the model there: mlinfra model publish)",
}


class StorageError(ModelError):
    """MODEL_URI is malformed, its SDK is missing, or the objects cannot be read or written."""


class StorageSDKMissing(StorageError):
    """The scheme's client library is not installed (a missing prerequisite, not a failure)."""


@dataclass(frozen=True)
class ModelLocation:
    scheme: str  # "file", "s3", "gs" or "az"
    bucket: str = ""  # bucket, or Azure container
    prefix: str = ""  # object-key prefix ending in "/", or the local folder
    account: str = ""  # Azure storage account only

    def key(self, name: str) -> str:
        return self.prefix + name

    def __str__(self) -> str:
        if self.scheme == "file":
            return self.prefix
        return f"{self.scheme}://{self.account + '/' if self.account else ''}{self.bucket}/{self.prefix}"


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


def _status(exc: Exception) -> int | None:
    """The HTTP status behind an SDK error: botocore ClientError, google.api_core, azure.core."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore: {"Error": {"Code": "404"}, "ResponseMetadata": {...}}
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(response.get("Error", {}).get("Code", ""))
        return status or (int(code) if code.isdigit() else None)
    for attribute in ("status_code", "code"):  # azure.core HttpResponseError / google.api_core
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    return None


def _error_code(exc: Exception) -> str:
    """The service's own error code (AccessDenied, AuthorizationFailure...) when the SDK exposes it."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    code = getattr(exc, "error_code", None)  # azure.core: a StorageErrorCode enum (a str)
    return str(getattr(code, "value", code) or "")


def _chain(exc: BaseException | None):
    """The error and what it was raised from or during (boto3's upload wraps the ClientError)."""
    seen = 0
    while exc is not None and seen < 5:
        yield exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1


def _explain(exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    code = next((c for c in map(_error_code, _chain(exc)) if c), "")
    detail = f"{type(exc).__name__}{' ' + code if code and code not in first_line else ''}: {first_line}"
    hint = _STATUS_HINTS.get(next((s for s in map(_status, _chain(exc)) if s), None))
    return f"{hint} ({detail})" if hint else detail


def _missing_sdk(scheme: str, exc: ImportError) -> StorageError:
    return StorageSDKMissing(f"{scheme}:// models need {' and '.join(SDK_PACKAGES[scheme])}; pip install 'mlinfra-iac[app]' ({exc})")


class _Bucket:
    """One scheme's client: read(key, dest) and write(key, source); the SDK is imported here."""

    def __init__(self, loc: ModelLocation):
        self.loc = loc
        try:
            self.read, self.write = _CLIENTS[loc.scheme](loc)
        except ImportError as exc:
            raise _missing_sdk(loc.scheme, exc) from None
        except StorageError:
            raise
        except Exception as exc:  # credential discovery or a malformed setting fails at construction
            raise StorageError(f"cannot open {loc}: {_explain(exc)}") from None


def _s3(loc: ModelLocation) -> tuple[Callable, Callable]:
    import boto3

    client = boto3.client("s3")
    return (lambda key, dest: client.download_file(loc.bucket, key, str(dest)),
            lambda key, source: client.upload_file(str(source), loc.bucket, key))


def _gs(loc: ModelLocation) -> tuple[Callable, Callable]:
    from google.cloud import storage

    bucket = storage.Client().bucket(loc.bucket)
    return (lambda key, dest: bucket.blob(key).download_to_filename(str(dest)),
            lambda key, source: bucket.blob(key).upload_from_filename(str(source)))


def _az(loc: ModelLocation) -> tuple[Callable, Callable]:
    from azure.storage.blob import BlobServiceClient

    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if connection:  # an emulator (Azurite) or a local key; the deployed service uses its identity
        service = BlobServiceClient.from_connection_string(connection)
        if service.account_name != loc.account:
            raise StorageError(f"AZURE_STORAGE_CONNECTION_STRING is for account {service.account_name!r},"
                               f" MODEL_URI names {loc.account!r}")
    else:
        from azure.identity import DefaultAzureCredential  # honours AZURE_CLIENT_ID (user-assigned identity)

        service = BlobServiceClient(f"https://{loc.account}.blob.core.windows.net",
                                    credential=DefaultAzureCredential())
    container = service.get_container_client(loc.bucket)

    def read(key: str, dest: Path) -> None:
        dest.write_bytes(container.download_blob(key).readall())

    def write(key: str, source: Path) -> None:
        container.upload_blob(key, source.read_bytes(), overwrite=True)

    return read, write


_CLIENTS = {"s3": _s3, "gs": _gs, "az": _az}


def fetch_model(uri: str | None, cache_dir: Path | None = None) -> Path:
    """Resolve MODEL_URI to a local folder holding the model files, downloading if needed."""
    loc = parse_model_uri(uri)
    if loc.scheme == "file":
        folder = Path(loc.prefix)
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise StorageError(f"model folder {folder} lacks {', '.join(missing)}")
        return folder
    bucket = _Bucket(loc)
    dest = Path(cache_dir or os.environ.get("MODEL_CACHE_DIR") or tempfile.mkdtemp(prefix="mlinfra-model-"))
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*REQUIRED_FILES, SAMPLE_FILE):
        try:
            bucket.read(loc.key(name), dest / name)
        except Exception as exc:  # each SDK has its own error tree; all mean "cannot read"
            (dest / name).unlink(missing_ok=True)  # never leave a partial download behind
            if name in REQUIRED_FILES:
                raise StorageError(f"cannot read {loc}{name}: {_explain(exc)}") from None
    return dest


def publish_model(source: Path | str, uri: str) -> list[str]:
    """Copy a model folder's files to a bucket prefix (e.g. models/<service>/current/); return the URIs.

    The model is loaded and self-tested first, so a corrupt artefact never reaches a bucket."""
    from app.model import DigitsModel

    source = Path(source)
    loc = parse_model_uri(uri)
    if loc.scheme == "file":
        raise StorageError(f"publish needs a bucket URI ({', '.join(s + '://' for s in CLOUD_SCHEMES)}), got {uri!r}")
    DigitsModel.load(source).self_test(sample_for(source))
    bucket = _Bucket(loc)
    written = []
    for name in PUBLISH_ORDER:
        if not (source / name).is_file():
            continue  # only the sample is optional; load() above proved the others exist
        try:
            bucket.write(loc.key(name), source / name)
        except Exception as exc:
            raise StorageError(f"cannot write {loc}{name}: {_explain(exc)}") from None
        written.append(f"{loc}{name}")
    return written


def sample_for(folder: Path) -> Path:
    """The self-test sample beside the model if there is one, else the bundled one."""
    own = folder / SAMPLE_FILE
    return own if own.is_file() else MODEL_DIR / SAMPLE_FILE
