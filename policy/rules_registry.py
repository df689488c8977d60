"""Container registries: no shared admin password, images scanned, tags immutable.

Azure has no per-registry scanning (Defender for Containers is per subscription) nor registry-wide
immutable tags, so those two rules read AWS and GCP only.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from policy.rules_base import get, resource_rule

ECR = "aws:ecr/repository:Repository"
ARTIFACT_REGISTRY = "gcp:artifactregistry/repository:Repository"
ACR = "azure-native:containerregistry:Registry"


@resource_rule("registry-admin-user-off", "The Azure container registry's admin user (a shared password) is off.",
               severity="high", types=(ACR,))
def registry_admin_user_off(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == ACR and get(inputs, "adminUserEnabled") is True:
        yield "registry sets adminUserEnabled: true; push with an identity instead"


@resource_rule("registry-image-scanning", "Images are scanned for vulnerabilities when pushed.",
               severity="medium", types=(ECR, ARTIFACT_REGISTRY))
def registry_image_scanning(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == ECR and get(inputs, "imageScanningConfiguration.scanOnPush") is not True:
        yield "ECR repository must set imageScanningConfiguration.scanOnPush: true"
    elif type_ == ARTIFACT_REGISTRY and get(inputs, "vulnerabilityScanningConfig.enablementConfig") == "DISABLED":
        yield "Artifact Registry repository disables vulnerability scanning"


@resource_rule("registry-immutable-tags", "Image tags are immutable: a tag always names the same image.",
               severity="medium", types=(ECR, ARTIFACT_REGISTRY))
def registry_immutable_tags(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == ECR:
        mutability = get(inputs, "imageTagMutability")
        if mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
            yield f"ECR imageTagMutability is {mutability or 'unset (MUTABLE)'}; must be IMMUTABLE"
    elif type_ == ARTIFACT_REGISTRY and (get(inputs, "format") or "DOCKER").upper() == "DOCKER":
        if get(inputs, "dockerConfig.immutableTags") is not True:
            yield "Artifact Registry repository must set dockerConfig.immutableTags: true"
