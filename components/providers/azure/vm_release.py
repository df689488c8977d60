"""What runs the container on a serving VM, and how a new release reaches running instances.

Boot (custom data, cloud-init, once per instance): install Docker and a systemd unit, `mlinfra-serve`,
that logs in to the registry as the VM's identity, pulls, reads secrets from Key Vault and runs the
container in the foreground. systemd restarts it until it works (`Restart=always`, no start limit), so a
role assignment still propagating or a registry hiccup is retried, never a dead instance.

Release (the Custom Script extension's settings, in the scale set model): the image by digest and the
container's environment. A new digest changes the model ("Changes to the scale set model include ...
add/remove extensions", "Upgrade policy modes for Virtual Machine Scale Sets"), which the rolling upgrade
policy applies batch by batch behind the health probe. Custom data alone would not do it: cloud-init
runs it at first boot only, so an updated instance would keep its old container.
"""
from __future__ import annotations

import base64
import shlex

MODEL_UNIT = "mlinfra-serve"
# Key Vault data plane: "Get Secret" REST API, api-version 7.4.
KEY_VAULT_API = "7.4"
IMDS_TOKEN = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"

SERVE_SCRIPT = """#!/bin/sh
# Runs the release in /etc/mlinfra/release (written by the Custom Script extension).
set -eu
. /etc/mlinfra/release
token() {
  curl -sf -H Metadata:true "%(imds)s&resource=$1&client_id=$CLIENT_ID" | jq -r .access_token
}
# The identity's Entra token is exchanged for an ACR refresh token ("Azure Container Registry
# authentication": POST /oauth2/exchange); no registry password exists anywhere.
AAD=$(token https://management.azure.com/)
ACR=$(curl -sf -X POST -d "grant_type=access_token&service=$SERVER&access_token=$AAD" \\
  "https://$SERVER/oauth2/exchange" | jq -r .refresh_token)
echo "$ACR" | docker login "$SERVER" -u 00000000-0000-0000-0000-000000000000 --password-stdin
docker pull "$IMAGE"
install -d -m 0700 /run/mlinfra
umask 077
: > /run/mlinfra/secrets.env
for pair in $SECRETS; do
  KV=$(token https://vault.azure.net)
  value=$(curl -sf -H "Authorization: Bearer $KV" "${pair#*=}?api-version=%(kv)s" | jq -r .value)
  printf '%%s=%%s\\n' "${pair%%%%=*}" "$value" >> /run/mlinfra/secrets.env
done
docker rm -f model 2>/dev/null || true
exec docker run --rm --name model -p "$PORT:$PORT" --env-file /etc/mlinfra/app.env \\
  --env-file /run/mlinfra/secrets.env "$IMAGE"
""" % {"imds": IMDS_TOKEN, "kv": KEY_VAULT_API}

UNIT = f"""[Unit]
Description=mlinfra model server
After=docker.service network-online.target
Wants=network-online.target
Requires=docker.service
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/local/bin/{MODEL_UNIT}
Restart=always
RestartSec=15

[Install]
WantedBy=multi-user.target
"""


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def cloud_init() -> str:
    """Custom data: Docker, the serve script and its systemd unit. Holds no image, no secret, no env."""
    return ("#cloud-config\npackage_update: true\npackages: [docker.io, jq, curl]\n"
            f"write_files:\n  - path: /usr/local/bin/{MODEL_UNIT}\n    permissions: '0755'\n    content: |\n"
            f"{_indent(SERVE_SCRIPT)}\n"
            f"  - path: /etc/systemd/system/{MODEL_UNIT}.service\n    permissions: '0644'\n    content: |\n"
            f"{_indent(UNIT)}\n"
            f"runcmd:\n  - systemctl enable --now docker\n  - systemctl enable --now {MODEL_UNIT}\n")


def release_files(image: str, server: str, client_id: str, env: dict, secret_uris: dict) -> dict[str, str]:
    """The two files of a release: /etc/mlinfra/release (shell variables) and app.env (docker --env-file)."""
    secrets = " ".join(f"{name}={uri}" for name, uri in sorted(secret_uris.items()))
    release = "".join(f"{k}={shlex.quote(str(v))}\n" for k, v in (
        ("IMAGE", image), ("SERVER", server), ("CLIENT_ID", client_id), ("PORT", env.get("PORT", "")),
        ("SECRETS", secrets)))
    # docker --env-file: one VAR=value per line, taken literally (no quotes, no expansion).
    app_env = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
    return {"/etc/mlinfra/release": release, "/etc/mlinfra/app.env": app_env}


def release_command(files: dict[str, str]) -> str:
    """The Custom Script extension's commandToExecute: wait for cloud-init, write the release, restart."""
    steps = ["cloud-init status --wait >/dev/null", "install -d -m 0755 /etc/mlinfra"]
    for path, content in sorted(files.items()):
        encoded = base64.b64encode(content.encode()).decode()
        steps.append(f"echo {encoded} | base64 -d > {path}")
    steps.append(f"systemctl restart {MODEL_UNIT}")
    return "sh -c " + shlex.quote(" && ".join(steps))


def release_extension(command) -> dict:
    """Custom Script extension for Linux ("Use the Azure Custom Script Extension Version 2 with Linux
    virtual machines": publisher Microsoft.Azure.Extensions, type CustomScript, typeHandlerVersion 2.1)."""
    return {"name": "mlinfra-release", "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript",
            "type_handler_version": "2.1", "auto_upgrade_minor_version": True,
            "settings": {"commandToExecute": command}}


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()

