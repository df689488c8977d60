"""Resource group, storage account tiers and the container registry: the inputs Azure receives."""
from __future__ import annotations

import base64

from tests.helpers import inputs, one

from .util import REGION

TAGS = {"service": "digits", "environment": "dev", "stack": "dev", "managed-by": "mlinfra", "team": "ml"}
ACCOUNT = "Microsoft.Storage/storageAccounts"


def test_resource_group_holds_the_environment(dev_plan):
    rg = inputs(dev_plan, "azure-native:resources:ResourceGroup")
    assert rg == {"resourceGroupName": "digits-dev-rg", "location": REGION, "tags": TAGS}


def test_sdk_provider_carries_the_region(dev_plan):
    provider = one(dev_plan, "pulumi:providers:azure-native")
    assert provider.inputs["location"] == REGION


def test_storage_account_is_private_tls_only_entra_only_and_encrypted(dev_plan):
    account = inputs(dev_plan, "azure-native:storage:StorageAccount")
    name = account["accountName"]
    assert account == {
        "accountName": name, "resourceGroupName": "digits-dev-rg", "location": REGION, "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"}, "accessTier": "Hot", "enableHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False, "allowSharedKeyAccess": False,
        "defaultToOAuthAuthentication": True, "allowCrossTenantReplication": False,
        "encryption": {"keySource": "Microsoft.Storage", "services": {
            "blob": {"enabled": True, "keyType": "Account"}, "file": {"enabled": True, "keyType": "Account"}}},
        "tags": TAGS,
    }
    assert dev_plan.outputs["bucket"] == "ml"
    assert dev_plan.outputs["bucket_url"] == f"az://{name}/ml"


def test_prod_storage_is_geo_redundant_and_archive_capable(prod_plan):
    # ZRS / GZRS cannot hold archive-tier blobs: prod uses GRS.
    assert inputs(prod_plan, "azure-native:storage:StorageAccount")["sku"] == {"name": "Standard_GRS"}


def test_versioning_soft_delete_and_private_container(dev_plan):
    account = inputs(dev_plan, "azure-native:storage:StorageAccount")["accountName"]
    blob = inputs(dev_plan, "azure-native:storage:BlobServiceProperties")
    assert blob["isVersioningEnabled"] is True and blob["accountName"] == account
    assert blob["deleteRetentionPolicy"] == {"enabled": True, "days": 7}
    assert blob["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 7}
    container = inputs(dev_plan, "azure-native:storage:BlobContainer")
    assert container == {"accountName": account, "resourceGroupName": "digits-dev-rg", "containerName": "ml",
                         "publicAccess": "None"}


def test_lifecycle_tiers_the_data_prefixes_and_expires_versions(dev_plan):
    rules = inputs(dev_plan, "azure-native:storage:ManagementPolicy")["policy"]["rules"]
    by_name = {r["name"]: r for r in rules}
    assert set(by_name) == {"tier-data", "tier-runs", "expire-old-versions"}
    for prefix in ("data", "runs"):
        rule = by_name[f"tier-{prefix}"]
        assert rule["enabled"] is True and rule["type"] == "Lifecycle"
        # Azure's prefix match includes the container name; models/ stays hot.
        assert rule["definition"]["filters"] == {"blobTypes": ["blockBlob"], "prefixMatch": [f"ml/{prefix}/"]}
        assert rule["definition"]["actions"] == {"baseBlob": {
            "tierToCool": {"daysAfterModificationGreaterThan": 30},
            "tierToCold": {"daysAfterModificationGreaterThan": 90},
            "tierToArchive": {"daysAfterModificationGreaterThan": 365}}}
    versions = by_name["expire-old-versions"]["definition"]
    assert versions["actions"] == {"version": {"delete": {"daysAfterCreationGreaterThan": 90}}}
    assert "prefixMatch" not in versions["filters"]


def test_custom_tier_ages_reach_the_policy(misc_plan):
    plan = misc_plan
    rules = {r["name"]: r for r in inputs(plan, "azure-native:storage:ManagementPolicy")["policy"]["rules"]}
    assert set(rules) == {"tier-raw", "expire-old-versions"}
    assert rules["tier-raw"]["definition"]["filters"]["prefixMatch"] == ["ml/raw/"]
    assert rules["tier-raw"]["definition"]["actions"]["baseBlob"]["tierToCold"] == {"daysAfterModificationGreaterThan": 20}
    assert rules["expire-old-versions"]["definition"]["actions"]["version"]["delete"] == {
        "daysAfterCreationGreaterThan": 14}


def test_registry_has_no_admin_user_nor_anonymous_pull(dev_plan, prod_plan):
    reg = inputs(dev_plan, "azure-native:containerregistry:Registry")
    name = reg["registryName"]
    # Dev: Basic, the cheapest tier ("Azure Container Registry service tiers": Basic, Standard, Premium);
    # prod keeps Standard's larger included storage and throughput.
    expected = {"registryName": name, "resourceGroupName": "digits-dev-rg", "location": REGION,
                "sku": {"name": "Basic"}, "adminUserEnabled": False, "anonymousPullEnabled": False, "tags": TAGS}
    assert inputs(prod_plan, "azure-native:containerregistry:Registry")["sku"] == {"name": "Standard"}
    assert {k: reg.get(k) for k in expected} == expected
    assert dev_plan.outputs["registry"] == f"{name}.azurecr.io/digits"


def test_purge_task_keeps_the_last_images(dev_plan):
    task = inputs(dev_plan, "azure-native:containerregistry:Task")
    assert task["registryName"] == inputs(dev_plan, "azure-native:containerregistry:Registry")["registryName"]
    assert task["status"] == "Enabled" and task["platform"] == {"os": "Linux", "architecture": "amd64"}
    assert task["trigger"] == {"timerTriggers": [{"name": "daily", "schedule": "0 3 * * *", "status": "Enabled"}]}
    assert task["step"]["type"] == "EncodedTask"
    yaml = base64.b64decode(task["step"]["encodedTaskContent"]).decode()
    assert "cmd: acr purge --filter 'digits:.*' --keep 20 --ago 7d --untagged" in yaml


def test_image_is_built_from_app_and_pushed_to_the_registry(dev_plan):
    image = inputs(dev_plan, "docker-build:index:Image")
    server = f"{inputs(dev_plan, 'azure-native:containerregistry:Registry')['registryName']}.azurecr.io"
    assert image["push"] is True and image["tags"][0].startswith(f"{server}/digits:")
    # The admin user is off; the build pushes with the program's own repository-scoped ACR token, whose
    # password is a secret in the plan ("Create a token with repository-scoped permissions").
    assert image["registries"] == "[secret]"
    scope = inputs(dev_plan, "azure-native:containerregistry:ScopeMap")
    assert scope["actions"] == ["repositories/digits/content/read", "repositories/digits/content/write"]
    token = inputs(dev_plan, "azure-native:containerregistry:Token")
    assert token["scopeMapId"].endswith("/registries/" + server.split(".")[0] + "/scopeMaps/digits-push")
    assert token["status"] == "enabled" and token["credentials"] == {"passwords": [{"name": "password1"}]}
    assert "additionalSecretOutputs" not in token
    assert dev_plan.outputs["image"] == f"{server}/digits@{dev_plan.outputs['image_digest']}"


def test_every_taggable_resource_is_tagged(prod_plan):
    untaggable = {"azure-native:storage:BlobServiceProperties", "azure-native:storage:BlobContainer",
                  "azure-native:storage:ManagementPolicy", "azure-native:authorization:RoleAssignment",
                  "azure-native:network:Subnet", "azure-native:consumption:Budget", "azure-native:storage:FileShare",
                  "azure-native:containerregistry:ScopeMap", "azure-native:containerregistry:Token",
                  "azure-native:dns:RecordSet", "azure-native:monitor:DiagnosticSetting",
                  "azure-native:cdn:AFDOriginGroup", "azure-native:cdn:AFDOrigin", "azure-native:cdn:AFDCustomDomain",
                  "azure-native:cdn:Route", "azure-native:cdn:SecurityPolicy"}
    for r in prod_plan.custom():
        if r.type.startswith("azure-native:") and r.type not in untaggable:
            assert r.inputs.get("tags", {}).get("managed-by") == "mlinfra", r.name

