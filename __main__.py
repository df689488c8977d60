"""Entry point for `pulumi up -s <stack>` from the repository root (Pulumi.yaml: runtime python)."""
from stacks.program import program

program()
