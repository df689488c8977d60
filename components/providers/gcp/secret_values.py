"""`mlinfra secrets set` on GCP: a new version of the service's Secret Manager secret.

projects.secrets.addVersion (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/addVersion):
`POST https://secretmanager.googleapis.com/v1/projects/P/secrets/S:addVersion` with
`{"payload": {"data": base64(value)}}`; needs secretmanager.versions.add on the secret and the
cloud-platform scope. The secret exists only after a deploy: a missing one is 404.
"""
from __future__ import annotations

import base64
from typing import Any

from components.errors import OperationFailed

from . import limits
from .preflight import _project, credentials

API = "https://secretmanager.googleapis.com/v1"


def put(spec: Any, name: str, value: str, live: Any) -> str:
    import httpx

    from stacks.doctor import Unknown

    try:
        token, from_creds, *quota = credentials(live)
    except Unknown as exc:
        raise OperationFailed(f"could not get a GCP token: {exc}") from None
    project = _project(None, live, from_creds)
    sid = limits.secret_id(spec, name)
    url = f"{API}/projects/{project}/secrets/{sid}:addVersion"
    body = {"payload": {"data": base64.b64encode(value.encode()).decode()}}
    try:
        headers = {"Authorization": f"Bearer {token}"}
        if quota and quota[0]:  # user credentials bill API calls to their quota project
            headers["x-goog-user-project"] = quota[0]
        answer = httpx.post(url, json=body, headers=headers, timeout=live.timeout)
    except httpx.HTTPError as exc:
        raise OperationFailed(f"could not reach Secret Manager: {exc}") from None
    if answer.status_code == 404:
        raise OperationFailed(f"secret {sid} does not exist in project {project}: deploy the environment first "
                              "(mlinfra deploy), then set its values")
    if answer.status_code >= 400:
        raise OperationFailed(f"Secret Manager refused to write {sid} (HTTP {answer.status_code}): "
                              f"{_message(answer)}")
    return str(answer.json().get("name") or f"projects/{project}/secrets/{sid}")


def _message(answer: Any) -> str:
    try:
        return str(answer.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return answer.text[:300]
