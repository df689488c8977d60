"""What the container is given (release convention, secrets) and how it is reached (custom domains, TLS, WAF)."""
from __future__ import annotations

import re

import pytest

from components.providers.azure.roles import KEY_VAULT_SECRETS_USER
from components.providers.azure.secrets import PLACEHOLDER
from tests.helpers import inputs

from .util import named, plan_azure, role_id

DOMAIN = "api.example.com"


@pytest.fixture(scope="module")
def app_plan():
    return plan_azure({"serving": {"min_instances": 1, "domain": DOMAIN, "secrets": {"API_KEY": "api-key"}},
                       "alerts": {"enabled": False}})


@pytest.fixture(scope="module")
def zone_plan():
    return plan_azure({"serving": {"min_instances": 1, "domain": DOMAIN, "dns_zone": "dns-rg/example.com",
                                   "image": "x/y:1"}, "alerts": {"enabled": False}})


@pytest.fixture(scope="module")
def front_door_plan():
    return plan_azure({"serving": {"mode": "vm", "min_instances": 3, "domain": DOMAIN, "firewall": True,
                                   "rate_limit_per_minute": 300, "access_log_days": 90, "image": "x/y:1",
                                   "secrets": {"DB_PASSWORD": "db-password"}},
                       "alerts": {"enabled": False}}, env="prod")


def env_of(app) -> dict:
    [container] = app["template"]["containers"]
    return {e["name"]: e for e in container["env"]}


# -- the release convention ------------------------------------------------------------------------
def test_container_gets_model_uri_port_and_its_identity(dev_plan):
    app = inputs(dev_plan, "azure-native:app:ContainerApp")
    env = env_of(app)
    account = inputs(dev_plan, "azure-native:storage:StorageAccount")["accountName"]
    assert env["MODEL_URI"]["value"] == f"az://{account}/ml/models/digits/current/"
    assert env["PORT"]["value"] == "8080"
    # With only a user-assigned identity, DefaultAzureCredential needs AZURE_CLIENT_ID to pick it
    # (azure-identity, ManagedIdentityCredential).
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        env["AZURE_CLIENT_ID"]["value"])
    assert env["AZURE_CLIENT_ID"]["value"] != dev_plan.outputs["serving_identity"]  # client id, not principal id


def test_container_runs_the_image_by_digest(dev_plan):
    [container] = inputs(dev_plan, "azure-native:app:ContainerApp")["template"]["containers"]
    assert "@sha256:" in container["image"] and container["image"] == dev_plan.outputs["image"]


def test_first_revision_waits_for_role_propagation(dev_plan):
    # "When you assign roles or remove role assignments, it can take up to 10 minutes for changes to take
    # effect" (Troubleshoot Azure RBAC). The sleep is created with the assignments (its triggers are their
    # ids), so later deploys do not wait again.
    sleep = named(dev_plan, "digits-dev-serving-rbac-propagation")
    assert sleep.type == "time:index/sleep:Sleep" and sleep.inputs["createDuration"] == "10m"
    assignments = [r for r in dev_plan.of_type("azure-native:authorization:RoleAssignment")
                   if r.name.startswith("digits-dev-serving-")]
    # Triggered by (so created after) every assignment of the serving identity.
    triggers = list(sleep.inputs["triggers"].values())
    assert len(triggers) == len(assignments) and all("/roleAssignments/" in t for t in triggers)
    app = named(dev_plan, "digits-dev-app")
    assert sleep.urn in app.dependsOn and {a.urn for a in assignments} <= set(app.dependsOn)


# -- secrets ---------------------------------------------------------------------------------------------
def test_secrets_live_in_an_rbac_key_vault(app_plan):
    vault = inputs(app_plan, "azure-native:keyvault:Vault")
    props = vault["properties"]
    # RBAC permission model: "enableRbacAuthorization: true ... access policies ... will be ignored".
    assert props["enableRbacAuthorization"] is True and props["sku"] == {"family": "A", "name": "standard"}
    assert props["enableSoftDelete"] is True and not props.get("enablePurgeProtection")  # dev: name reusable
    secret = named(app_plan, "digits-dev-secret-api-key")
    assert secret.inputs["secretName"] == "api-key"
    # The program never writes a value: a placeholder at creation, then ignored.
    assert secret.inputs["properties"]["value"] == PLACEHOLDER
    assert "properties.value" in secret.options["ignoreChanges"]


def test_only_the_serving_identity_may_read_each_secret(app_plan):
    grants = [r.inputs for r in app_plan.of_type("azure-native:authorization:RoleAssignment")
              if r.inputs["roleDefinitionId"] == role_id(KEY_VAULT_SECRETS_USER)]
    assert len(grants) == 1
    [grant] = grants
    assert grant["scope"].endswith("/providers/Microsoft.KeyVault/vaults/" +
                                   inputs(app_plan, "azure-native:keyvault:Vault")["vaultName"] + "/secrets/api-key")
    assert grant["principalId"] == app_plan.outputs["serving_identity"]


def test_container_app_references_the_secret_by_url_and_identity(app_plan):
    app = inputs(app_plan, "azure-native:app:ContainerApp")
    vault = inputs(app_plan, "azure-native:keyvault:Vault")["vaultName"]
    [secret] = app["configuration"]["secrets"]
    # Container Apps Key Vault references: keyVaultUrl of the (versionless) secret and the identity to use.
    assert secret == {"name": "api-key", "keyVaultUrl": f"https://{vault}.vault.azure.net/secrets/api-key",
                      "identity": app["identity"]["userAssignedIdentities"][0]}
    assert env_of(app)["API_KEY"] == {"name": "API_KEY", "secretRef": "api-key"}
    assert "value" not in env_of(app)["API_KEY"]


def test_prod_vault_has_purge_protection_and_vm_fetches_secrets_at_start(front_door_plan):
    props = inputs(front_door_plan, "azure-native:keyvault:Vault")["properties"]
    assert props["enablePurgeProtection"] is True and props["softDeleteRetentionInDays"] == 90
    [ext] = named(front_door_plan, "digits-prod-vmss-z1").inputs["virtualMachineProfile"]["extensionProfile"][
        "extensions"]
    command = ext["settings"]["commandToExecute"]
    assert PLACEHOLDER not in command and "db-password" not in command.split("secrets/")[0]


# -- Container Apps custom domain ----------------------------------------------------------------------
def test_container_app_binds_the_domain_with_a_managed_certificate(app_plan):
    app = inputs(app_plan, "azure-native:app:ContainerApp")
    ingress = app["configuration"]["ingress"]
    assert ingress["allowInsecure"] is False and ingress["external"] is True
    # bindingType Auto binds the managed certificate once issued, without a second update of the app
    # (Container Apps API 2024-10-02-preview and later).
    assert ingress["customDomains"] == [{"name": DOMAIN, "bindingType": "Auto"}]
    cert = named(app_plan, "digits-dev-certificate")
    assert cert.inputs["properties"] == {"subjectName": DOMAIN, "domainControlValidation": "CNAME"}
    # "Creating managed certificate requires hostname ... added as a custom hostname to a container app".
    assert named(app_plan, "digits-dev-app").urn in cert.dependsOn
    assert app_plan.outputs["endpoint"] == f"https://{DOMAIN}"


def test_records_to_create_are_listed_without_a_zone(app_plan):
    records = {(r["type"], r["name"]): r for r in app_plan.outputs["dns_records"]}
    assert set(records) == {("TXT", f"asuid.{DOMAIN}"), ("CNAME", DOMAIN)}
    assert records[("CNAME", DOMAIN)]["value"].startswith("digits-dev.")
    assert records[("CNAME", DOMAIN)]["value"].endswith(".azurecontainerapps.io")
    assert records[("TXT", f"asuid.{DOMAIN}")]["value"]
    assert not app_plan.of_type("azure-native:dns:RecordSet")


def test_records_are_created_in_the_azure_dns_zone(zone_plan):
    sets = {r.inputs["recordType"]: r for r in zone_plan.of_type("azure-native:dns:RecordSet")}
    assert set(sets) == {"TXT", "CNAME"}
    assert sets["TXT"].inputs["zoneName"] == "example.com" and sets["TXT"].inputs["resourceGroupName"] == "dns-rg"
    assert sets["TXT"].inputs["relativeRecordSetName"] == "asuid.api"
    assert sets["CNAME"].inputs["relativeRecordSetName"] == "api"
    assert sets["CNAME"].inputs["cnameRecord"]["cname"].startswith("digits-dev.")
    app = named(zone_plan, "digits-dev-app")
    assert {sets["TXT"].urn, sets["CNAME"].urn} <= set(app.dependsOn)
    assert "dns_records" not in zone_plan.outputs or zone_plan.outputs["dns_records"] is None


def test_internal_ingress_never_gets_a_domain():
    from components.errors import ConfigError

    with pytest.raises(ConfigError):
        plan_azure({"serving": {"min_instances": 1, "ingress": "internal", "domain": DOMAIN}})


# -- VM serving behind Front Door ----------------------------------------------------------------------
def test_front_door_premium_with_managed_tls12_certificate(front_door_plan):
    assert inputs(front_door_plan, "azure-native:cdn:Profile")["sku"] == {"name": "Premium_AzureFrontDoor"}
    domain = inputs(front_door_plan, "azure-native:cdn:AFDCustomDomain")
    assert domain["hostName"] == DOMAIN
    assert domain["tlsSettings"] == {"certificateType": "ManagedCertificate", "minimumTlsVersion": "TLS12"}
    route = inputs(front_door_plan, "azure-native:cdn:Route")
    # Port 80 only redirects: httpsRedirect Enabled with both protocols accepted.
    assert route["httpsRedirect"] == "Enabled" and route["supportedProtocols"] == ["Http", "Https"]
    origin = inputs(front_door_plan, "azure-native:cdn:AFDOrigin")
    lb_ip = named(front_door_plan, "digits-prod-lb-ip")
    assert origin["hostName"] and lb_ip.type == "azure-native:network:PublicIPAddress"
    assert front_door_plan.outputs["endpoint"] == f"https://{DOMAIN}"
    records = {(r["type"], r["name"]) for r in front_door_plan.outputs["dns_records"]}
    assert records == {("TXT", f"_dnsauth.{DOMAIN}"), ("CNAME", DOMAIN)}


def test_waf_policy_managed_rules_and_rate_limit_per_client_ip(front_door_plan):
    waf = inputs(front_door_plan, "azure-native:frontdoor:Policy")
    assert waf["sku"] == {"name": "Premium_AzureFrontDoor"}  # managed rule sets need Premium
    assert waf["policySettings"]["mode"] == "Prevention" and waf["policySettings"]["enabledState"] == "Enabled"
    sets = {s["ruleSetType"]: s for s in waf["managedRules"]["managedRuleSets"]}
    assert sets["Microsoft_DefaultRuleSet"]["ruleSetVersion"] == "2.1"
    assert sets["Microsoft_DefaultRuleSet"]["ruleSetAction"] == "Block"
    [rule] = waf["customRules"]["rules"]
    # Rate limiting counts requests per socket IP in a 1- or 5-minute window, and needs a match condition.
    assert (rule["ruleType"], rule["rateLimitDurationInMinutes"], rule["rateLimitThreshold"]) == (
        "RateLimitRule", 1, 300)
    assert rule["groupBy"] == [{"variableName": "SocketAddr"}] and rule["action"] == "Block"
    assert rule["matchConditions"][0]["matchVariable"] == "RequestHeader"
    policy = inputs(front_door_plan, "azure-native:cdn:SecurityPolicy")["parameters"]
    assert policy["type"] == "WebApplicationFirewall"
    assert len(policy["associations"][0]["domains"]) == 2  # the endpoint and the custom domain


def test_only_front_door_reaches_the_instances(front_door_plan):
    rules = {r["name"]: r for r in named(front_door_plan, "digits-prod-serving-nsg").inputs["securityRules"]}
    # "AzureFrontDoor.Backend" service tag: Front Door's back-end addresses ("Secure traffic to origins").
    assert rules["allow-app-clients"]["sourceAddressPrefix"] == "AzureFrontDoor.Backend"


def test_access_logs_kept_the_configured_days(front_door_plan):
    setting = inputs(front_door_plan, "azure-native:monitor:DiagnosticSetting")
    assert {log["category"] for log in setting["logs"]} == {"FrontDoorAccessLog",
                                                            "FrontDoorWebApplicationFirewallLog"}
    assert setting["resourceUri"].endswith("/profiles/digits-prod-fd")
    workspace = named(front_door_plan, "digits-prod-access-logs").inputs
    assert workspace["retentionInDays"] == 90


def test_public_vm_without_domain_or_firewall_stays_on_the_load_balancer(prod_plan):
    assert not prod_plan.of_type("azure-native:cdn:Profile")
    assert prod_plan.outputs["endpoint"].startswith("http://")


def release_env(vmss) -> str:
    """The scale set's app.env, as its release extension writes it (vm_release.release_command)."""
    import base64
    import re as _re

    [ext] = vmss.inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
    files = {path: base64.b64decode(blob).decode() for blob, path in
             _re.findall(r"echo (\S+) \| base64 -d > (\S+)", ext["settings"]["commandToExecute"])}
    return files["/etc/mlinfra/app.env"]


def test_instances_check_that_requests_come_from_their_own_front_door(front_door_plan):
    # "Secure traffic to Azure Front Door origins", public-IP origins: the AzureFrontDoor.Backend tag and
    # "configure your application to check the X-Azure-FDID header value" against the profile's Front
    # Door ID, because the tag admits every customer's Front Door. The app checks FRONT_DOOR_ID (app/origin.py).
    from components.providers.azure.mocks import new_resource

    profile = next(r for r in front_door_plan.resources if r.type == "azure-native:cdn:Profile")
    _, state = new_resource(profile.type, profile.name, dict(profile.inputs))
    scale_sets = [r for r in front_door_plan.resources
                  if r.type == "azure-native:compute:VirtualMachineScaleSet" and "-vmss" in r.name]
    assert scale_sets
    for vmss in scale_sets:
        assert f"FRONT_DOOR_ID={state['frontDoorId']}\n" in release_env(vmss)


def test_no_front_door_id_without_a_front_door(prod_plan):
    scale_sets = [r for r in prod_plan.resources
                  if r.type == "azure-native:compute:VirtualMachineScaleSet" and "-vmss" in r.name]
    assert scale_sets and not prod_plan.of_type("azure-native:cdn:Profile")
    for vmss in scale_sets:
        env = release_env(vmss)
        assert "MODEL_URI=" in env and "FRONT_DOOR_ID" not in env
