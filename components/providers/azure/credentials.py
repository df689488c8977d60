"""Azure credentials, looked for where the provider SDK looks, without talking to Azure."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional


def missing(env: Mapping[str, str], home: Path, config: Mapping[str, str]) -> Optional[str]:
    """None when credentials are there, else one line naming the variables or login command."""
    service_principal = env.get("ARM_CLIENT_ID") and env.get("ARM_TENANT_ID") and (
        env.get("ARM_CLIENT_SECRET") or env.get("ARM_CLIENT_CERTIFICATE_PATH")
        or str(env.get("ARM_USE_OIDC", "")).lower() == "true" or str(env.get("ARM_USE_MSI", "")).lower() == "true")
    if service_principal:
        return None
    azure_dir = Path(env.get("AZURE_CONFIG_DIR") or home / ".azure")
    if (azure_dir / "azureProfile.json").is_file() or (azure_dir / "msal_token_cache.json").is_file():
        return None
    return ("no Azure credentials: set ARM_CLIENT_ID and ARM_TENANT_ID with ARM_CLIENT_SECRET or ARM_USE_OIDC=true "
            "(and ARM_SUBSCRIPTION_ID), or run `az login`")
