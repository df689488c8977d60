"""Environment -> stack name. One stack per environment per cloud, never sharing state.

An environment deploys to its own cloud (`mlinfra:cloud`) as the stack named after it (`dev`);
the same environment on another cloud is a stack of its own (`dev-aws`).
"""
from __future__ import annotations


def stack_name(env: str, cloud: str, home_cloud: str) -> str:
    return env if cloud == home_cloud else f"{env}-{cloud}"
