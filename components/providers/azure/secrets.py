"""`serving.secrets` on Azure: one Key Vault per environment (Azure RBAC permission model), a secret per
name, and Key Vault Secrets User for the serving identity only, scoped to each secret.

Values never pass through the program: a secret is created holding a placeholder (ARM cannot create a
Key Vault secret without a value) and `ignore_changes` keeps the program from ever writing it again;
`mlinfra secrets set` writes the real value through the data plane, and Container Apps read it by
reference (keyVaultUrl + identity), so it is in neither the plan, the state nor the app's definition.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .roles import KEY_VAULT_SECRETS_USER

if TYPE_CHECKING:
    from components.providers.base import BuildContext

    from .identity import Identity

PLACEHOLDER = "unset: write the value with `mlinfra secrets set`"
# Soft delete cannot be turned off; 7 days (the minimum, "accepts >=7 and <=90") for short-lived
# environments so a deleted preview frees its name soon, 90 (the default) for prod.
SOFT_DELETE_DAYS = {"prod": 90}


@dataclass
class VaultSecrets:
    vault: object = None
    app_secrets: list = field(default_factory=list)  # Container Apps `configuration.secrets` entries
    env: list = field(default_factory=list)  # Container Apps env entries with secretRef
    uris: dict = field(default_factory=dict)  # ENV_NAME -> versionless secret URI (Output)


def secret_ref(env_name: str) -> str:
    # Container Apps secret names: lowercase alphanumerics and '-'.
    return env_name.lower().replace("_", "-")


def secret_name(name: str) -> str:
    # Key Vault secret names: 1-127 alphanumerics and '-'.
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:127]


def build_secrets(provider, parent, ctx: "BuildContext", identity: "Identity") -> VaultSecrets:
    # The SDK is imported here: `mlinfra secrets set` uses the names above without loading it.
    import pulumi
    import pulumi_azure_native as azure_native

    from .identity import _assign

    secrets = ctx.spec.service.serving.secrets
    out = VaultSecrets()
    if not secrets:
        return out
    rg = ctx.base
    prod = ctx.spec.env == "prod"
    config = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    vault = azure_native.keyvault.Vault(
        f"{ctx.prefix}-secrets", vault_name=provider.key_vault_name(ctx.spec), resource_group_name=rg.name,
        location=ctx.spec.region,
        properties={
            "tenant_id": config.tenant_id, "sku": {"family": "A", "name": "standard"},
            # Azure RBAC, not access policies: data-plane access is role assignments, scoped per secret.
            "enable_rbac_authorization": True, "enable_soft_delete": True,
            "soft_delete_retention_in_days": SOFT_DELETE_DAYS.get(ctx.spec.env, 7),
            # Purge protection is irreversible and holds the name for the retention period: prod only.
            **({"enable_purge_protection": True} if prod else {}),
            "enabled_for_deployment": False, "enabled_for_disk_encryption": False,
            "enabled_for_template_deployment": False,
        },
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
    out.vault = vault
    for env_name, name in sorted(secrets.items()):
        kv_name = secret_name(name)
        secret = azure_native.keyvault.Secret(
            f"{ctx.prefix}-secret-{secret_ref(env_name)}", vault_name=vault.name, resource_group_name=rg.name,
            secret_name=kv_name, properties={"value": PLACEHOLDER, "content_type": "text/plain"},
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["properties.value"],
                                        additional_secret_outputs=["properties"]))
        # Key Vault Secrets User on this one secret, for the serving identity only.
        _assign(ctx, parent, f"serving-secret-{secret_ref(env_name)}", identity, KEY_VAULT_SECRETS_USER,
                secret.id, f"read the {kv_name} secret of this service")
        uri = pulumi.Output.concat(vault.properties.apply(lambda p: p.vault_uri.rstrip("/")), "/secrets/", kv_name)
        out.uris[env_name] = uri
        out.app_secrets.append({"name": secret_ref(env_name), "key_vault_url": uri, "identity": identity.id})
        out.env.append({"name": env_name, "secret_ref": secret_ref(env_name)})
    return out
