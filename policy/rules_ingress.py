"""Public endpoints: HTTPS only (plain HTTP may only redirect), and a web application firewall in prod.

A public endpoint without TLS is a mandatory violation in the environments listed for
`endpoint-tls-prod` (prod) and advisory everywhere else (`endpoint-tls`); a prod endpoint without
a firewall is advisory (`endpoint-firewall`). CrossGuard gives a policy one enforcement level, so
the mandatory and the advisory halves are two rules reading one check.

What counts as plaintext, per cloud (each from the provider's documentation):
- AWS ALB listener: `protocol` HTTP (the default for ALBs: "For Application Load Balancers, valid
  values are HTTP and HTTPS, with a default of HTTP", Pulumi registry aws.lb.Listener) whose default
  actions are not all redirects to HTTPS. Lambda function URLs and API Gateway are HTTPS only.
- GCP external Application Load Balancer: a target HTTP proxy whose URL map does not only redirect
  (`defaultUrlRedirect.httpsRedirect: true`, "Set up an HTTP-to-HTTPS redirect for global external
  Application Load Balancers"). Cloud Run URLs are HTTPS.
- Azure: a public layer-4 load balancer (it forwards TCP, it cannot terminate TLS); an Application
  Gateway HTTP listener whose routing rule does not redirect; a Front Door route that accepts HTTP
  without `httpsRedirect: Enabled`; a Container App with `allowInsecure: true` ("If set to false
  HTTP connections are automatically redirected to HTTPS connections", ARM Ingress reference).
"""
from __future__ import annotations

from typing import Any, Iterator, Optional

from pydantic import Field

from policy.rules_base import Finding, Resource, Settings, Stack, Undecided, get, is_unknown, items, stack_rule
from policy.rules_stack import AWS_LB, AZ_LB, CONTAINER_APP, GCP_FORWARDING, public_endpoints

AWS_LISTENER = "aws:lb/listener:Listener"
GCP_HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
GCP_URL_MAP = "gcp:compute/uRLMap:URLMap"
GCP_BACKEND = "gcp:compute/backendService:BackendService"
AZ_APP_GATEWAY = "azure-native:network:ApplicationGateway"
AZ_FD_ROUTE = "azure-native:cdn:Route"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AWS_WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
AZ_FD_SECURITY_POLICY = "azure-native:cdn:SecurityPolicy"
LAMBDA_URL = "aws:lambda/functionUrl:FunctionUrl"


def _refers(stack: Stack, child: Resource, prop: str, target: Resource) -> Optional[bool]:
    """Does `child.<prop>` name `target`? By dependency (CrossGuard), else by the target's name as the
    last path segment of the reference (GCP self links `.../urlMaps/NAME`) or inside an AWS ARN
    (`...:loadbalancer/app/NAME/ID`). None when the reference is unknown."""
    if target.urn in child.deps.get(prop, ()):
        return True
    value, name = child.inputs.get(prop), target.inputs.get("name")
    if value is None or name is None:
        return False
    if is_unknown(value) or is_unknown(name):
        return None
    text = str(value)
    return text == name or text.endswith(f"/{name}") or f"/{name}/" in text


def _https_redirect(action: Any) -> bool:
    return get(action, "type") == "redirect" and str(get(action, "redirect.protocol", "")).upper() == "HTTPS"


def _aws(stack: Stack) -> Iterator[tuple[Resource, str]]:
    public = [lb for lb in stack.of_type(AWS_LB) if get(lb.inputs, "internal") is not True]
    for listener in stack.of_type(AWS_LISTENER):
        if str(get(listener.inputs, "protocol") or "HTTP").upper() != "HTTP":
            continue
        joined = [_refers(stack, listener, "loadBalancerArn", lb) for lb in public]
        if not any(joined):
            if None in joined:
                raise Undecided("loadBalancerArn")
            continue
        actions = items(listener.inputs, "defaultActions")
        if not actions or not all(_https_redirect(a) for a in actions):
            yield listener, (f"internet-facing ALB listener on port {get(listener.inputs, 'port')} serves plain HTTP; "
                             "it may only redirect to HTTPS")


def _gcp(stack: Stack) -> Iterator[tuple[Resource, str]]:
    external = [r for r in stack.of_type(*GCP_FORWARDING)
                if str(get(r.inputs, "loadBalancingScheme") or "EXTERNAL").startswith("EXTERNAL")]
    maps = stack.of_type(GCP_URL_MAP)
    for proxy in stack.of_type(GCP_HTTP_PROXY):
        fronted = [_refers(stack, rule, "target", proxy) for rule in external]
        if not any(fronted):
            if None in fronted:
                raise Undecided("target")
            continue
        targets = [m for m in maps if _refers(stack, proxy, "urlMap", m)]
        if not targets and any(_refers(stack, proxy, "urlMap", m) is None for m in maps):
            raise Undecided("urlMap")
        if not targets or not all(get(m.inputs, "defaultUrlRedirect.httpsRedirect") is True
                                  and not items(m.inputs, "hostRules") for m in targets):
            yield proxy, "external HTTP proxy serves plain HTTP; its URL map may only redirect to HTTPS"


def front_door_only(stack: Stack) -> bool:
    """A public Azure load balancer that only Front Door can reach: a Front Door route exists and every
    inbound Allow rule of the stack's NSGs (other than the platform's health probes) admits only the
    AzureFrontDoor.Backend service tag ("Secure traffic to Azure Front Door origins"; "Virtual network
    service tags"). Clients then meet Front Door's HTTPS, not the load balancer."""
    if not stack.of_type(AZ_FD_ROUTE):
        return False
    sources = [str(get(rule, "sourceAddressPrefix") or "*")
               for nsg in stack.of_type(AZ_NSG) for rule in items(nsg.inputs, "securityRules")
               if get(rule, "direction") == "Inbound" and get(rule, "access") == "Allow"]
    app_sources = [s for s in sources if s != "AzureLoadBalancer"]
    return bool(app_sources) and all(s == "AzureFrontDoor.Backend" for s in app_sources)


def _azure(stack: Stack) -> Iterator[tuple[Resource, str]]:
    behind_front_door = front_door_only(stack)
    for lb in stack.of_type(AZ_LB):
        public = any(get(f, "publicIPAddress") is not None for f in items(lb.inputs, "frontendIPConfigurations"))
        if public and items(lb.inputs, "loadBalancingRules") and not behind_front_door:
            yield lb, "public layer-4 load balancer forwards TCP and cannot terminate TLS"
    for gateway in stack.of_type(AZ_APP_GATEWAY):
        plain = {get(x, "name") for x in items(gateway.inputs, "httpListeners")
                 if str(get(x, "protocol") or "").lower() == "http"}
        for rule in items(gateway.inputs, "requestRoutingRules"):
            listener = str(get(rule, "httpListener.id") or "").rsplit("/", 1)[-1]
            if listener in plain and get(rule, "redirectConfiguration") is None:
                yield gateway, f"Application Gateway HTTP listener {listener} is routed to the backend, not redirected"
    for route in stack.of_type(AZ_FD_ROUTE):
        protocols = [str(p).lower() for p in items(route.inputs, "supportedProtocols")] or ["http", "https"]
        if "http" in protocols and get(route.inputs, "httpsRedirect") != "Enabled":
            yield route, "Front Door route accepts HTTP without httpsRedirect: Enabled"
    for app in stack.of_type(CONTAINER_APP):
        if get(app.inputs, "configuration.ingress.external") is True and \
                get(app.inputs, "configuration.ingress.allowInsecure") is True:
            yield app, "container app ingress allows insecure HTTP (allowInsecure: true)"


def plaintext_endpoints(stack: Stack) -> Iterator[tuple[Resource, str]]:
    yield from _aws(stack)
    yield from _gcp(stack)
    yield from _azure(stack)


def _scoped(stack: Stack, environments: list[str], inside: bool) -> bool:
    env = "preview" if stack.preview else stack.env
    return (env in environments) == inside


def _findings(stack: Stack, check) -> Iterator[Finding]:
    try:
        found = list(check(stack))
    except Undecided as und:
        yield Finding(f"cannot decide: {und.path} is unknown until the update runs",
                      getattr(stack.service, "urn", None), undecided=True, path=und.path)
        return
    for resource, why in found:
        yield Finding(why, resource.urn)


class TlsSettings(Settings):
    environments: list[str] = Field(default=["prod"], description="Environments where a public endpoint without "
                                    "TLS is a mandatory violation (`preview` names every preview environment).")


class TlsAdvisorySettings(Settings):
    skip_environments: list[str] = Field(default=["prod"], description="Environments left to endpoint-tls-prod.")


TLS_TYPES = (AWS_LISTENER, AWS_LB, GCP_HTTP_PROXY, GCP_URL_MAP, *GCP_FORWARDING, AZ_LB, AZ_NSG, AZ_APP_GATEWAY,
             AZ_FD_ROUTE, CONTAINER_APP)


@stack_rule("endpoint-tls-prod", "Public endpoints serve HTTPS only in prod: plain HTTP may only redirect to HTTPS.",
            severity="high", level="mandatory", types=TLS_TYPES, settings=TlsSettings)
def endpoint_tls_prod(stack: Stack, settings: TlsSettings) -> Iterator[Finding]:
    if _scoped(stack, settings.environments, inside=True):
        yield from _findings(stack, plaintext_endpoints)


@stack_rule("endpoint-tls", "Public endpoints outside prod serve HTTPS only (set serving.domain); advisory.",
            severity="medium", level="advisory", types=TLS_TYPES, settings=TlsAdvisorySettings)
def endpoint_tls(stack: Stack, settings: TlsAdvisorySettings) -> Iterator[Finding]:
    if _scoped(stack, settings.skip_environments, inside=False):
        yield from _findings(stack, plaintext_endpoints)


def unguarded_endpoints(stack: Stack) -> Iterator[tuple[Resource, str]]:
    """Public endpoints with no web application firewall in front of them."""
    aws_guarded = bool(stack.of_type(AWS_WAF_ASSOCIATION))
    gcp_unguarded = [b for b in stack.of_type(GCP_BACKEND)
                     if not str(get(b.inputs, "loadBalancingScheme") or "EXTERNAL").startswith("INTERNAL")
                     and get(b.inputs, "securityPolicy") is None]
    for resource, why in public_endpoints(stack):
        if resource.type == AWS_LB and not aws_guarded:
            yield resource, f"{why}, with no AWS WAF web ACL associated"
        elif resource.type in GCP_FORWARDING and gcp_unguarded:
            yield resource, f"{why}, and backend service {gcp_unguarded[0].name} has no Cloud Armor securityPolicy"
        elif resource.type in ("gcp:cloudrunv2/service:Service", CONTAINER_APP) and not stack.of_type(
                AZ_FD_SECURITY_POLICY, AZ_APP_GATEWAY, GCP_BACKEND):
            yield resource, f"{why}, with no load balancer or firewall in front of it"
        elif resource.type == AZ_LB and not (front_door_only(stack) and stack.of_type(AZ_FD_SECURITY_POLICY)):
            yield resource, f"{why}: a layer-4 load balancer has no web application firewall"
    for gateway in stack.of_type(AZ_APP_GATEWAY):
        if get(gateway.inputs, "firewallPolicy") is None and \
                get(gateway.inputs, "webApplicationFirewallConfiguration.enabled") is not True:
            yield gateway, "Application Gateway has no WAF policy"
    for url in stack.of_type(LAMBDA_URL):
        if get(url.inputs, "authorizationType") == "NONE":
            yield url, "public Lambda function URL: AWS WAF cannot be associated with function URLs"


class FirewallSettings(Settings):
    environments: list[str] = Field(default=["prod"], description="Environments whose public endpoints should sit "
                                    "behind a web application firewall.")


@stack_rule("endpoint-firewall", "Public prod endpoints sit behind a web application firewall with managed rules "
            "(AWS WAF, Cloud Armor, Azure WAF); advisory.", severity="medium", level="advisory",
            types=(AWS_LB, AWS_WAF_ASSOCIATION, GCP_BACKEND, *GCP_FORWARDING, AZ_LB, AZ_NSG, AZ_FD_ROUTE, AZ_APP_GATEWAY,
                   AZ_FD_SECURITY_POLICY, CONTAINER_APP, LAMBDA_URL), settings=FirewallSettings)
def endpoint_firewall(stack: Stack, settings: FirewallSettings) -> Iterator[Finding]:
    if _scoped(stack, settings.environments, inside=True):
        yield from _findings(stack, unguarded_endpoints)
