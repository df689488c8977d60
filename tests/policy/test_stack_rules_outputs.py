"""Under CrossGuard a stack policy sees a component's registered outputs: the description must still be found."""
from __future__ import annotations

from policy.rules_base import Resource, Stack


def test_description_is_read_from_registered_outputs():
    outputs = {"endpoint": "https://x", "description": {"env": "prod", "preview": False,
                                                        "service": {"serving": {"ingress": "internal"}}}}
    view = Stack([Resource(urn="urn:svc", type="mlinfra:service:MLService", name="digits-prod", inputs=outputs)])
    assert view.description("service.serving.ingress") == "internal"
    assert view.env == "prod"
