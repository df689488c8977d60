"""`mlinfra secrets set` on Azure: a new version of the service's Key Vault secret.

Set Secret (https://learn.microsoft.com/rest/api/keyvault/secrets/set-secret/set-secret):
`PUT https://VAULT.vault.azure.net/secrets/NAME?api-version=7.4` with `{"value": ...}` and a token
for https://vault.azure.net/.default; "If the named secret already exists, Azure Key Vault creates a
new version". The vault uses Azure RBAC (secrets.py): the caller needs Key Vault Secrets Officer (or a
role with Microsoft.KeyVault/vaults/secrets/setSecret/action) on it. The vault exists only after a
deploy: a missing one does not resolve. Public-cloud DNS suffix only (vault.azure.net).
"""
from __future__ import annotations

from typing import Any

from components.errors import OperationFailed

from .preflight import token
from .secrets import secret_name

VAULT_SCOPE = "https://vault.azure.net/.default"
API_VERSION = "7.4"


def vault_url(spec: Any) -> str:
    from components.providers.base import get_provider

    return f"https://{get_provider('azure').key_vault_name(spec)}.vault.azure.net"


def put(spec: Any, name: str, value: str, live: Any) -> str:
    import httpx

    bearer = token(live, VAULT_SCOPE)
    url = f"{vault_url(spec)}/secrets/{secret_name(name)}"
    try:
        answer = httpx.put(url, params={"api-version": API_VERSION}, json={"value": value, "contentType": "text/plain"},
                           headers={"Authorization": f"Bearer {bearer}"}, timeout=live.timeout)
    except httpx.ConnectError:
        raise OperationFailed(f"key vault {vault_url(spec)} is not reachable (it exists after the first deploy: "
                              "mlinfra deploy)") from None
    except httpx.HTTPError as exc:
        raise OperationFailed(f"could not reach Key Vault: {exc}") from None
    if answer.status_code >= 400:
        try:
            detail = answer.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = answer.text[:300]
        raise OperationFailed(f"Key Vault refused to write {secret_name(name)} (HTTP {answer.status_code}): {detail}")
    return str(answer.json().get("id") or url)
