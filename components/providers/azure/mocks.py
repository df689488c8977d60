"""Realistic outputs for the offline plan: what Azure Resource Manager would answer."""
from __future__ import annotations

import hashlib
import uuid

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"

# type token -> (ARM provider/type path, input holding the resource's name)
ARM_TYPES: dict[str, tuple[str, str]] = {
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName"),
    "azure-native:containerregistry:Registry": ("Microsoft.ContainerRegistry/registries", "registryName"),
    "azure-native:managedidentity:UserAssignedIdentity": ("Microsoft.ManagedIdentity/userAssignedIdentities",
                                                          "resourceName"),
    "azure-native:operationalinsights:Workspace": ("Microsoft.OperationalInsights/workspaces", "workspaceName"),
    "azure-native:app:ManagedEnvironment": ("Microsoft.App/managedEnvironments", "environmentName"),
    "azure-native:app:ContainerApp": ("Microsoft.App/containerApps", "containerAppName"),
    "azure-native:network:VirtualNetwork": ("Microsoft.Network/virtualNetworks", "virtualNetworkName"),
    "azure-native:network:NetworkSecurityGroup": ("Microsoft.Network/networkSecurityGroups",
                                                  "networkSecurityGroupName"),
    "azure-native:network:PublicIPAddress": ("Microsoft.Network/publicIPAddresses", "publicIpAddressName"),
    "azure-native:network:NatGateway": ("Microsoft.Network/natGateways", "natGatewayName"),
    "azure-native:network:LoadBalancer": ("Microsoft.Network/loadBalancers", "loadBalancerName"),
    "azure-native:network:PrivateEndpoint": ("Microsoft.Network/privateEndpoints", "privateEndpointName"),
    "azure-native:compute:VirtualMachineScaleSet": ("Microsoft.Compute/virtualMachineScaleSets", "vmScaleSetName"),
    "azure-native:monitor:AutoscaleSetting": ("Microsoft.Insights/autoscalesettings", "autoscaleSettingName"),
    "azure-native:monitor:ActionGroup": ("Microsoft.Insights/actionGroups", "actionGroupName"),
    "azure-native:monitor:MetricAlert": ("Microsoft.Insights/metricAlerts", "ruleName"),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName"),
    "azure-native:cdn:Profile": ("Microsoft.Cdn/profiles", "profileName"),
    "azure-native:frontdoor:Policy": ("Microsoft.Network/frontDoorWebApplicationFirewallPolicies", "policyName"),
    "azure-native:network:ApplicationGateway": ("Microsoft.Network/applicationGateways", "applicationGatewayName"),
    "azure-native:network:WebApplicationFirewallPolicy": (
        "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies", "policyName"),
    "azure-native:monitor:DiagnosticSetting": ("Microsoft.Insights/diagnosticSettings", "name"),
    "azure-native:containerregistry:ScopeMap": ("Microsoft.ContainerRegistry/registries/scopeMaps", "scopeMapName"),
    "azure-native:containerregistry:Token": ("Microsoft.ContainerRegistry/registries/tokens", "tokenName"),
}


def _hex(text: str, n: int = 8) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _guid(text: str) -> str:
    return str(uuid.UUID(hashlib.md5(text.encode()).hexdigest()))


def _rg_id(rg: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}"


def _ip(text: str, first: int = 20) -> str:
    h = hashlib.sha1(text.encode()).digest()
    return f"{first}.{h[0]}.{h[1]}.{max(h[2], 1)}"


def new_resource(typ: str, name: str, inputs: dict, region: str = "eastus") -> tuple[str, dict]:
    out = dict(inputs)
    rg = inputs.get("resourceGroupName") or "mock-rg"
    location = inputs.get("location") or region
    if typ == "azure-native:resources:ResourceGroup":
        rg_name = inputs.get("resourceGroupName") or f"{name}{_hex(name)}"
        out.update(name=rg_name, location=location, azureApiVersion="2024-03-01")
        return _rg_id(rg_name), out
    if typ == "azure-native:storage:BlobContainer":
        account, container = inputs.get("accountName"), inputs.get("containerName") or name
        rid = (f"{_rg_id(rg)}/providers/Microsoft.Storage/storageAccounts/{account}"
               f"/blobServices/default/containers/{container}")
        out.update(name=container)
        return rid, out
    if typ == "azure-native:storage:FileShare":
        account, share = inputs.get("accountName"), inputs.get("shareName") or name
        rid = f"{_rg_id(rg)}/providers/Microsoft.Storage/storageAccounts/{account}/fileServices/default/shares/{share}"
        out.update(name=share)
        return rid, out
    if typ == "azure-native:network:Subnet":
        vnet, subnet = inputs.get("virtualNetworkName"), inputs.get("subnetName") or name
        rid = f"{_rg_id(rg)}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}"
        out.update(name=subnet)
        return rid, out
    if typ == "azure-native:authorization:RoleAssignment":
        guid = inputs.get("roleAssignmentName") or _guid(name)
        scope = inputs.get("scope") or f"/subscriptions/{SUBSCRIPTION}"
        out.update(name=guid, principalType=inputs.get("principalType", "ServicePrincipal"))
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}", out
    if typ == "azure-native:keyvault:Secret":
        vault, secret = inputs.get("vaultName"), inputs.get("secretName") or name
        out.update(name=secret)
        return f"{_rg_id(rg)}/providers/Microsoft.KeyVault/vaults/{vault}/secrets/{secret}", out
    if typ in ("azure-native:containerregistry:ScopeMap", "azure-native:containerregistry:Token"):
        kind, key = (("scopeMaps", "scopeMapName") if typ.endswith("ScopeMap") else ("tokens", "tokenName"))
        child = inputs.get(key) or name
        out.update(name=child)
        if typ.endswith("Token"):
            # ARM returns a generated password's value only in the response that created it.
            out["credentials"] = {"passwords": [{**p, "value": f"mock-{_hex(child + str(p), 24)}"}
                                                for p in (inputs.get("credentials") or {}).get("passwords", [])]}
        return (f"{_rg_id(rg)}/providers/Microsoft.ContainerRegistry/registries/{inputs.get('registryName')}"
                f"/{kind}/{child}"), out
    if typ in ("azure-native:dns:RecordSet", "azure-native:app:ManagedCertificate"):
        parent_name = inputs.get("zoneName") or inputs.get("environmentName")
        kind = ("Microsoft.Network/dnsZones/{}/" + str(inputs.get("recordType")) if typ.endswith("RecordSet")
                else "Microsoft.App/managedEnvironments/{}/managedCertificates")
        child = inputs.get("relativeRecordSetName") or inputs.get("managedCertificateName") or name
        out.update(name=child)
        if typ.endswith("RecordSet"):
            out["fqdn"] = f"{child}.{parent_name}."
        return f"{_rg_id(rg)}/providers/{kind.format(parent_name)}/{child}", out
    if typ == "azure-native:cdn:Profile":
        # ARM returns the profile's Front Door ID, the value it sends origins as X-Azure-FDID.
        out["frontDoorId"] = _guid(f"front-door/{inputs.get('profileName') or name}")
    if typ.startswith("azure-native:cdn:") and typ != "azure-native:cdn:Profile":
        # Front Door children live under their profile (and endpoint / origin group).
        kind, key = {"AFDEndpoint": ("afdEndpoints", "endpointName"), "AFDOriginGroup": ("originGroups", "originGroupName"),
                     "AFDOrigin": ("origins", "originName"), "AFDCustomDomain": ("customDomains", "customDomainName"),
                     "Route": ("routes", "routeName"), "SecurityPolicy": ("securityPolicies", "securityPolicyName"),
                     }[typ.rsplit(":", 1)[1]]
        child = inputs.get(key) or name
        out.update(name=child)
        if kind == "afdEndpoints":
            out["hostName"] = f"{child}-{_hex(child, 16)}.z01.azurefd.net"
        if kind == "customDomains":
            out["validationProperties"] = {"validationToken": _hex(f"token/{child}", 32)}
        return f"{_rg_id(rg)}/providers/Microsoft.Cdn/profiles/{inputs.get('profileName')}/{kind}/{child}", out
    if typ == "azure-native:consumption:Budget":
        budget = inputs.get("budgetName") or name
        scope = inputs.get("scope") or f"/subscriptions/{SUBSCRIPTION}"
        out.update(name=budget)
        return f"{scope}/providers/Microsoft.Consumption/budgets/{budget}", out
    if typ in ("azure-native:storage:BlobServiceProperties", "azure-native:storage:ManagementPolicy",
               "azure-native:containerregistry:Task"):
        account = inputs.get("accountName") or inputs.get("registryName")
        kind = {"azure-native:storage:BlobServiceProperties":
                "Microsoft.Storage/storageAccounts/{}/blobServices/default",
                "azure-native:storage:ManagementPolicy":
                "Microsoft.Storage/storageAccounts/{}/managementPolicies/default",
                "azure-native:containerregistry:Task": "Microsoft.ContainerRegistry/registries/{}/tasks/"
                + str(inputs.get("taskName") or name)}[typ]
        return f"{_rg_id(rg)}/providers/{kind.format(account)}", out

    identity = out.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # Inputs list identity ids; ARM answers with a map id -> {principalId, clientId}.
        out["identity"] = {**identity, "userAssignedIdentities": {
            i: {"principalId": _guid(f"principal/{i}"), "clientId": _guid(f"client/{i}")}
            for i in identity["userAssignedIdentities"] if isinstance(i, str)}}
    arm, name_key = ARM_TYPES.get(typ, (None, None))
    res_name = (inputs.get(name_key) if name_key else None) or f"{name}{_hex(name)}"
    out.setdefault("name", res_name)
    out.setdefault("location", location)
    rid = f"{_rg_id(rg)}/providers/{arm or 'Microsoft.Resources/mock'}/{res_name}"
    if typ == "azure-native:storage:StorageAccount":
        out["primaryEndpoints"] = {svc: f"https://{res_name}.{svc}.core.windows.net/"
                                   for svc in ("blob", "file", "queue", "table", "dfs", "web")}
    elif typ == "azure-native:containerregistry:Registry":
        out.update(loginServer=f"{res_name}.azurecr.io")
    elif typ == "azure-native:managedidentity:UserAssignedIdentity":
        out.update(principalId=_guid(f"principal/{rid}"), clientId=_guid(f"client/{rid}"), tenantId=TENANT)
    elif typ == "azure-native:keyvault:Vault":
        out["properties"] = {**(out.get("properties") or {}), "vaultUri": f"https://{res_name}.vault.azure.net/"}
    elif typ == "azure-native:operationalinsights:Workspace":
        out.update(customerId=_guid(f"customer/{rid}"))
    elif typ == "azure-native:app:ManagedEnvironment":
        out.update(defaultDomain=f"{_words(rid)}.{location}.azurecontainerapps.io", staticIp=_ip(rid),
                   customDomainConfiguration={"customDomainVerificationId": _hex(f"asuid/{SUBSCRIPTION}", 40).upper()})
    elif typ == "azure-native:app:ContainerApp":
        domain = f"{_words(inputs.get('managedEnvironmentId') or rid)}.{location}.azurecontainerapps.io"
        fqdn = f"{res_name}.{domain}"
        out["latestRevisionFqdn"] = f"{res_name}--{_hex(rid, 7)}.{domain}"
        out["latestRevisionName"] = f"{res_name}--{_hex(rid, 7)}"
        out["outboundIpAddresses"] = [_ip(rid + "/out")]
        configuration = dict(out.get("configuration") or {})
        ingress = configuration.get("ingress")
        if isinstance(ingress, dict):
            # Internal ingress answers on `<app>.internal.<env domain>`.
            host = fqdn if ingress.get("external") else f"{res_name}.internal.{domain}"
            configuration["ingress"] = {**ingress, "fqdn": host}
            out["configuration"] = configuration
    elif typ == "azure-native:network:PublicIPAddress":
        out.update(ipAddress=_ip(rid))
    elif typ == "azure-native:network:LoadBalancer":
        frontends = []
        for i, fe in enumerate(out.get("frontendIPConfigurations") or []):
            fe = dict(fe)
            if fe.get("subnet"):
                fe.setdefault("privateIPAddress", f"10.20.1.{10 + i}")
            frontends.append(fe)
        out["frontendIPConfigurations"] = frontends
    elif typ == "azure-native:compute:VirtualMachineScaleSet":
        out.update(uniqueId=_guid(f"vmss/{rid}"))
    return rid, out


def _words(text: str) -> str:
    # Container Apps environment domains look like `happy-river-1a2b3c4d`.
    adjectives = ("happy", "calm", "brave", "gentle", "proud", "lively", "polite", "witty")
    nouns = ("river", "forest", "meadow", "desert", "island", "valley", "ocean", "stone")
    h = hashlib.sha1(text.encode()).digest()
    return f"{adjectives[h[0] % 8]}-{nouns[h[1] % 8]}-{h[2:6].hex()}"


def call(token: str, args: dict, region: str = "eastus") -> dict:
    if token == "azure-native:authorization:getClientConfig":
        return {"clientId": "22222222-2222-2222-2222-222222222222", "objectId": "33333333-3333-3333-3333-333333333333",
                "subscriptionId": SUBSCRIPTION, "tenantId": TENANT}
    if token == "azure-native:operationalinsights:getSharedKeys":
        ws = str(args.get("workspaceName"))
        return {"primarySharedKey": f"mock-primary-{_hex(ws, 16)}==",
                "secondarySharedKey": f"mock-second-{_hex(ws, 16)}=="}
    return {}
