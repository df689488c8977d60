"""Identity: least privilege on every cloud (no wildcards, no primitive roles, narrow scopes)."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from pydantic import Field

from components.providers.azure.roles import PRIVILEGED

from policy.rules_base import Settings, as_list, get, items, json_doc, resource_rule

AWS_POLICY_DOCS = {  # type -> the inputs holding policy documents
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
AWS_ROLE = "aws:iam/role:Role"
AWS_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
GCP_IAM_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
GCP_IAM_TYPES = (
    "gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding", GCP_IAM_POLICY,
    "gcp:serviceaccount/iAMMember:IAMMember", "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
)
AZ_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


class IamSettings(Settings):
    # AWS accepts these actions only on Resource "*" (they name no resource), so they are the exception.
    resource_star_actions: list[str] = Field(default=[
        "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "xray:PutTraceSegments",
        "xray:PutTelemetryRecords"])
    forbidden_managed_policies: list[str] = Field(default=[
        "arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/PowerUserAccess",
        "arn:aws:iam::aws:policy/IAMFullAccess"])


def _wild_resource(resource: Any) -> bool:
    """"*", or an ARN whose resource name is a wildcard (any bucket, any repository); `bucket/*` is fine."""
    text = str(resource)
    if text == "*":
        return True
    parts = text.split(":", 5)
    if len(parts) < 6:
        return "*" in text
    service, rest = parts[2], parts[5]
    segments = rest.split("/")
    name = segments[0] if service == "s3" or len(segments) == 1 else segments[1]
    return "*" in name or "*" in parts[2] or parts[4] == "*"


def _statements(doc: Any) -> list:
    return [s for s in as_list((doc or {}).get("Statement")) if isinstance(s, Mapping)]


def _check_document(doc: Any, where: str, settings: IamSettings) -> Iterator[str]:
    for i, st in enumerate(_statements(doc)):
        if st.get("Effect") != "Allow":
            continue
        label = f"{where} statement {st.get('Sid') or i}"
        if "NotAction" in st or "NotResource" in st:
            yield f"{label} allows NotAction/NotResource (everything but a list)"
        actions = [str(a) for a in as_list(st.get("Action"))]
        wild = [a for a in actions if "*" in a]
        if wild:
            yield f"{label} allows wildcard action(s) {', '.join(wild)}"
        resources = [r for r in as_list(st.get("Resource")) if _wild_resource(r)]
        if resources and not (actions and all(a in settings.resource_star_actions for a in actions)):
            yield f"{label} allows {', '.join(a for a in actions if a not in settings.resource_star_actions)} " \
                  f"on wildcard resource(s) {', '.join(map(str, resources))}"


@resource_rule("iam-no-wildcards", "AWS IAM policies allow no wildcard actions or resources, and no "
               "administrator managed policy is attached.", severity="high",
               types=(*AWS_POLICY_DOCS, AWS_ROLE, AWS_ATTACHMENT), settings=IamSettings)
def iam_no_wildcards(type_: str, inputs: Mapping[str, Any], settings: IamSettings) -> Iterator[str]:
    if type_ in AWS_POLICY_DOCS:
        key = AWS_POLICY_DOCS[type_]
        yield from _check_document(json_doc(get(inputs, key), key), "policy", settings)
    elif type_ == AWS_ROLE:
        for i, inline in enumerate(items(inputs, "inlinePolicies")):
            doc = json_doc(get(inline, "policy"), f"inlinePolicies[{i}].policy")
            yield from _check_document(doc, f"inline policy {get(inline, 'name') or i}", settings)
    elif type_ == AWS_ATTACHMENT:
        arn = get(inputs, "policyArn")
        if arn in settings.forbidden_managed_policies:
            yield f"attaches {arn}"


class PrimitiveRoleSettings(Settings):
    roles: list[str] = Field(default=["roles/owner", "roles/editor"])


def _gcp_iam(type_: str) -> bool:
    cls = type_.rsplit(":", 1)[-1].lower()
    return type_.startswith("gcp:") and (cls.endswith("iammember") or cls.endswith("iambinding"))


@resource_rule("gcp-no-primitive-roles", "No GCP primitive role (owner, editor) is granted; service accounts get "
               "predefined roles on this service's resources.", severity="high", types=GCP_IAM_TYPES,
               settings=PrimitiveRoleSettings)
def gcp_no_primitive_roles(type_: str, inputs: Mapping[str, Any], settings: PrimitiveRoleSettings) -> Iterator[str]:
    if _gcp_iam(type_):
        role = get(inputs, "role")
        if role in settings.roles:
            members = [m for m in [get(inputs, "member")] + items(inputs, "members") if m]
            yield f"grants primitive role {role} to {', '.join(map(str, members)) or 'members'}"
    elif type_ == GCP_IAM_POLICY:
        doc = json_doc(get(inputs, "policyData"), "policyData") or {}
        for binding in as_list(doc.get("bindings")):
            if binding.get("role") in settings.roles:
                yield f"policy binds primitive role {binding['role']} to {', '.join(as_list(binding.get('members')))}"


@resource_rule("azure-role-assignment-scope", "Azure role assignments are scoped to a resource group or a "
               "resource, never a subscription or management group.", severity="high", types=(AZ_ROLE_ASSIGNMENT,))
def azure_role_assignment_scope(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == AZ_ROLE_ASSIGNMENT:
        scope = get(inputs, "scope")
        if not scope or "/resourcegroups/" not in str(scope).lower():
            yield f"role assignment scope {scope or 'unset'} is broader than a resource group"


class PrivilegedRoleSettings(Settings):
    # Built-in role definition GUIDs: Owner, Contributor, User Access Administrator, from the one table
    # of Microsoft's built-in roles (components/providers/azure/roles.py: plain data, no SDK).
    role_ids: list[str] = Field(default=list(PRIVILEGED))


@resource_rule("azure-no-privileged-roles", "No Azure role assignment grants Owner, Contributor or User Access "
               "Administrator.", severity="high", types=(AZ_ROLE_ASSIGNMENT,), settings=PrivilegedRoleSettings)
def azure_no_privileged_roles(type_: str, inputs: Mapping[str, Any], settings: PrivilegedRoleSettings) -> Iterator[str]:
    if type_ == AZ_ROLE_ASSIGNMENT:
        role = str(get(inputs, "roleDefinitionId") or "")
        guid = role.rstrip("/").rsplit("/", 1)[-1].lower()
        if guid in settings.role_ids:
            yield f"role assignment grants privileged built-in role {guid}"
