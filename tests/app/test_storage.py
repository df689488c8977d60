"""MODEL_URI: parsing, the models/ prefix rule, missing SDKs, and the readers over stand-in SDKs."""
from __future__ import annotations

import re
import shutil
import sys
import types
from pathlib import Path

import pytest

from app import MODEL_DIR
from app.model import DigitsModel
from app.storage import ModelLocation, StorageError, fetch_model, parse_model_uri, sample_for


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
    with pytest.raises(StorageError, match=f"needs {package}"):
        fetch_model(uri)


def test_local_folder_without_the_files_is_refused(tmp_path):
    with pytest.raises(StorageError, match="lacks model_card.json, digits.npz"):
        fetch_model(str(tmp_path))


def _fake_boto3(bucket_dir: Path, calls: list):
    client = types.SimpleNamespace()

    def download_file(bucket, key, dest):
        calls.append((bucket, key))
        source = bucket_dir / bucket / key
        if not source.is_file():
            raise FileNotFoundError(f"NoSuchKey: {key}")
        shutil.copyfile(source, dest)

    client.download_file = download_file
    return types.SimpleNamespace(client=lambda service: client)


def test_s3_reader_downloads_the_model_files(monkeypatch, tmp_path):
    shutil.copytree(MODEL_DIR, tmp_path / "bucket" / "digits-dev-data" / "models" / "digits" / "v1")
    calls: list = []
    monkeypatch.setitem(sys.modules, "boto3", _fake_boto3(tmp_path / "bucket", calls))
    folder = fetch_model("s3://digits-dev-data/models/digits/v1/", cache_dir=tmp_path / "cache")
    assert calls == [("digits-dev-data", "models/digits/v1/model_card.json"),
                     ("digits-dev-data", "models/digits/v1/digits.npz"),
                     ("digits-dev-data", "models/digits/v1/selftest.json")]
    model = DigitsModel.load(folder)
    model.self_test(sample_for(folder))
    assert sample_for(folder) == folder / "selftest.json"


def test_s3_reader_without_sample_falls_back_to_the_bundled_one(monkeypatch, tmp_path):
    target = tmp_path / "bucket" / "b" / "models" / "v2"
    shutil.copytree(MODEL_DIR, target)
    (target / "selftest.json").unlink()
    monkeypatch.setitem(sys.modules, "boto3", _fake_boto3(tmp_path / "bucket", []))
    folder = fetch_model("s3://b/models/v2", cache_dir=tmp_path / "cache")
    assert not (folder / "selftest.json").exists()
    assert sample_for(folder) == MODEL_DIR / "selftest.json"


def test_s3_reader_reports_a_missing_object(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "boto3", _fake_boto3(tmp_path, []))
    with pytest.raises(StorageError, match=r"cannot read s3://b/models/none/model_card.json: FileNotFoundError"):
        fetch_model("s3://b/models/none/", cache_dir=tmp_path / "cache")


def test_gs_and_az_readers_use_their_sdks(monkeypatch, tmp_path):
    read: list = []

    class Blob:
        def __init__(self, key):
            self.key = key

        def download_to_filename(self, dest):
            read.append(("gs", self.key))
            shutil.copyfile(MODEL_DIR / Path(self.key).name, dest)

    storage = types.SimpleNamespace(Client=lambda: types.SimpleNamespace(
        bucket=lambda name: types.SimpleNamespace(blob=Blob)))
    google_cloud = types.ModuleType("google.cloud")
    google_cloud.storage = storage
    monkeypatch.setitem(sys.modules, "google.cloud", google_cloud)
    DigitsModel.load(fetch_model("gs://bkt/models/d/", cache_dir=tmp_path / "gs"))

    class Container:
        def download_blob(self, key):
            read.append(("az", key))
            return types.SimpleNamespace(readall=lambda: (MODEL_DIR / Path(key).name).read_bytes())

    accounts: list = []

    def blob_service(url, credential):
        accounts.append(url)
        return types.SimpleNamespace(get_container_client=lambda name: Container())

    monkeypatch.setitem(sys.modules, "azure.identity", types.SimpleNamespace(DefaultAzureCredential=object))
    monkeypatch.setitem(sys.modules, "azure.storage.blob", types.SimpleNamespace(BlobServiceClient=blob_service))
    DigitsModel.load(fetch_model("az://acct/ctr/models/d", cache_dir=tmp_path / "az"))
    assert accounts == ["https://acct.blob.core.windows.net"]
    assert ("gs", "models/d/digits.npz") in read and ("az", "models/d/digits.npz") in read
