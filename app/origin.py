"""Only the service's own Front Door may reach it, when it sits behind one (Azure VM serving).

Microsoft's "Secure traffic to Azure Front Door origins" asks two things of a public-IP origin,
used together: accept traffic only from the AzureFrontDoor.Backend service tag (the program's
NSG does that), and "configure your application to check the X-Azure-FDID header value, which
Front Door sends to your origin" against your profile's Front Door ID — any Front Door profile,
including another tenant's, comes from the same service tag. The program passes its profile's
ID as FRONT_DOOR_ID; without it nothing is checked and this middleware is not installed.
Health paths stay open: the load balancer's probe comes from AzureLoadBalancer, not Front Door.
"""
from __future__ import annotations

from typing import Callable

from app.limits import send_error

HEADER = b"x-azure-fdid"


class FrontDoorOnly:
    def __init__(self, app, *, front_door_id: str, exempt: frozenset[str]):
        self.app = app
        self.expected = front_door_id.strip().lower().encode()
        self.exempt = exempt

    async def __call__(self, scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == HEADER and value.strip().lower() == self.expected:
                return await self.app(scope, receive, send)
        await send_error(send, 403, "this service answers only through its Front Door endpoint")
