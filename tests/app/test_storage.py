"""MODEL_URI: parsing, the models/ prefix rule, missing SDKs, and loading from real emulators.

The s3://, gs:// and az:// tests run against moto's S3 server, gcp-storage-emulator and Azurite
(tests/emulators.py), through each SDK's documented endpoint setting: the same code path a
deployed container takes, minus the cloud.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import MODEL_DIR
from app.model import CARD_FILE, SAMPLE_FILE, WEIGHTS_FILE, DigitsModel, ModelError
from app.storage import (ModelLocation, StorageError, StorageSDKMissing, fetch_model, parse_model_uri, publish_model,
                         sample_for)
from tests.app.conftest import wait_ready
from tests.emulators import (azurite, azurite_connection_string, az_store, gcs_emulator, gcs_store,  # noqa: F401
                             list_keys, s3_emulator, s3_enforces_auth, s3_store, store, upload_folder)


@pytest.mark.parametrize("uri, expected", [
    (None, ModelLocation("file", prefix=str(MODEL_DIR))),
    ("", ModelLocation("file", prefix=str(MODEL_DIR))),
    ("/srv/model", ModelLocation("file", prefix="/srv/model")),
    ("relative/dir", ModelLocation("file", prefix="relative/dir")),
    ("file:///srv/my%20model", ModelLocation("file", prefix="/srv/my model")),
    ("s3://digits-dev-data/models/digits/v1", ModelLocation("s3", "digits-dev-data", "models/digits/v1/")),
    ("gs://digits-dev-data/models/", ModelLocation("gs", "digits-dev-data", "models/")),
    ("az://digitsdevdata/data/models/digits/v1/",
     ModelLocation("az", "data", "models/digits/v1/", account="digitsdevdata")),
])
def test_parse_model_uri(uri, expected):
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize("uri, fragment", [
    ("s3://bucket/data/model/", "must start with 'models/'"),
    ("gs://bucket/", "must start with 'models/'"),
    ("gs://bucket/modelsx/a", "must start with 'models/'"),
    ("az://account/container/runs/x", "must start with 'models/'"),
    ("s3:///models/x", "expected s3://BUCKET/models/..."),
    ("az://account", "expected az://ACCOUNT/CONTAINER/models/..."),
    ("http://example.com/models/x", "scheme must be one of file, s3, gs, az"),
])
def test_bad_model_uris_are_refused(uri, fragment):
    with pytest.raises(StorageError, match=re.escape(fragment)):
        parse_model_uri(uri)


@pytest.mark.parametrize("uri, modules, package", [
    ("s3://b/models/x/", ["boto3"], "boto3"),
    ("gs://b/models/x/", ["google.cloud"], "google-cloud-storage"),
    ("az://a/c/models/x/", ["azure.identity", "azure.storage.blob"], "azure-storage-blob"),
])
def test_missing_sdk_names_the_package(monkeypatch, uri, modules, package):
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules makes the import fail
    with pytest.raises(StorageSDKMissing, match=re.escape(f"need {package}") + ".*pip install 'mlinfra-iac\\[app\\]'"):
        fetch_model(uri)


def test_local_folder_without_the_files_is_refused(tmp_path):
    with pytest.raises(StorageError, match="lacks model_card.json, digits.npz"):
        fetch_model(str(tmp_path))


def _ready(uri: str) -> tuple[int, dict, int]:
    """(readiness status, its body, liveness status) of a service started on MODEL_URI=uri."""
    from app.service import create_app

    with TestClient(create_app(model_uri=uri), raise_server_exceptions=False) as client:
        for _ in range(1000):  # the load runs in a background thread; wait until it has an answer
            ready = client.get("/v2/health/ready")
            if ready.status_code == 200 or "loading" not in ready.text:
                break
            time.sleep(0.02)
        return ready.status_code, ready.json(), client.get("/v2/health/live").status_code


def test_loads_the_model_from_each_scheme(store, tmp_path):
    upload_folder(store, MODEL_DIR)
    folder = fetch_model(store.uri(), cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in folder.iterdir()) == sorted([CARD_FILE, WEIGHTS_FILE, SAMPLE_FILE])
    model = DigitsModel.load(folder)
    assert model.digest == DigitsModel.load(MODEL_DIR).digest
    model.self_test(sample_for(folder))
    assert sample_for(folder) == folder / SAMPLE_FILE


def test_the_service_serves_a_bucket_model(store):
    upload_folder(store, MODEL_DIR)
    from app.service import create_app

    with TestClient(create_app(model_uri=store.uri())) as client:
        wait_ready(client)
        sample = json.loads((MODEL_DIR / SAMPLE_FILE).read_text())
        answer = client.post("/predict", json={"pixels": sample["pixels"][0]})
        assert answer.status_code == 200 and answer.json()["label"] == sample["labels"][0]


def test_bucket_without_sample_falls_back_to_the_bundled_one(store, tmp_path):
    shutil.copytree(MODEL_DIR, tmp_path / "m")
    (tmp_path / "m" / SAMPLE_FILE).unlink()
    upload_folder(store, tmp_path / "m")
    folder = fetch_model(store.uri(), cache_dir=tmp_path / "cache")
    assert not (folder / SAMPLE_FILE).exists()  # no empty or partial file left by the failed read
    assert sample_for(folder) == MODEL_DIR / SAMPLE_FILE


def test_missing_object_is_a_readiness_failure(store):
    """Nothing published yet: the service stays up (live), says why it is not ready, and never crashes."""
    status, body, live = _ready(store.uri("models/digits/none/"))
    assert (status, live) == (503, 200)
    assert f"cannot read {store.uri('models/digits/none/')}{CARD_FILE}: no such object" in body["error"]


def test_corrupt_model_is_a_readiness_failure(store, tmp_path):
    shutil.copytree(MODEL_DIR, tmp_path / "m")
    (tmp_path / "m" / WEIGHTS_FILE).write_bytes(b"PK\x03\x04 half an upload")
    upload_folder(store, tmp_path / "m")
    status, body, live = _ready(store.uri())
    assert (status, live) == (503, 200)
    assert "cannot read the model" in body["error"] and "BadZipFile" in body["error"]


def test_s3_wrong_credentials_are_a_readiness_failure(s3_enforces_auth):
    # S3 answers 403 (InvalidAccessKeyId / SignatureDoesNotMatch) to a key it does not know.
    status, body, live = _ready(s3_enforces_auth.uri())
    assert (status, live) == (503, 200)
    assert "access denied" in body["error"] and "403" in body["error"]


def test_azure_wrong_key_is_a_readiness_failure(az_store, azurite, monkeypatch):
    # Blob storage answers 403 AuthorizationFailure to a request signed with another key.
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(azurite, key="d3Jvbmcga2V5"))
    status, body, live = _ready(az_store.uri())
    assert (status, live) == (503, 200)
    assert "access denied" in body["error"] and "AuthorizationFailure" in body["error"]


def test_azure_connection_string_for_another_account_is_refused(az_store):
    with pytest.raises(StorageError, match="is for account 'devstoreaccount1', MODEL_URI names 'other'"):
        fetch_model(f"az://other/{az_store.bucket}/models/digits/current/")


def test_gcs_unusable_credentials_are_a_readiness_failure(gcs_store, monkeypatch, tmp_path):
    # Without the emulator the client resolves Application Default Credentials first: a broken
    # GOOGLE_APPLICATION_CREDENTIALS file fails there (google.auth DefaultCredentialsError), offline.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    (tmp_path / "adc.json").write_text("{not a key file")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "adc.json"))
    status, body, live = _ready(gcs_store.uri())
    assert (status, live) == (503, 200)
    assert f"cannot open {gcs_store.uri()}: DefaultCredentialsError" in body["error"]


def test_publish_writes_the_model_files_card_last(store):
    written = publish_model(MODEL_DIR, store.uri())
    assert written == [store.uri() + name for name in (SAMPLE_FILE, WEIGHTS_FILE, CARD_FILE)]
    assert list_keys(store) == sorted(f"models/digits/current/{name}" for name in (CARD_FILE, WEIGHTS_FILE, SAMPLE_FILE))
    DigitsModel.load(fetch_model(store.uri()))


def test_publish_refuses_a_corrupt_model_before_writing(store, tmp_path):
    shutil.copytree(MODEL_DIR, tmp_path / "m")
    card = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    (tmp_path / "m" / CARD_FILE).write_text(json.dumps(dict(card, weights_sha256="sha256-0000000000000000")))
    with pytest.raises(ModelError, match="does not match the weights"):
        publish_model(tmp_path / "m", store.uri())
    assert list_keys(store) == []


def test_publish_needs_a_bucket_uri(tmp_path):
    with pytest.raises(StorageError, match="publish needs a bucket URI"):
        publish_model(MODEL_DIR, str(tmp_path))
