"""Errors a user can cause, each with the exit code the CLI documents (see README).

Library code raises these; the CLI prints `str(err)` (one or two lines that say what to do)
and exits with `err.exit_code`. Anything else is a bug and shows a traceback only with --debug.
"""
from __future__ import annotations


class MlinfraError(Exception):
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OperationFailed(MlinfraError):
    """The operation ran and failed (deploy failed, mandatory policy violated)."""
    exit_code = 1


class ConfigError(MlinfraError):
    """Invalid or unsupported configuration; the message names the key path and what is allowed."""
    exit_code = 3


class UnsupportedFeature(ConfigError):
    """A spec asks a cloud for something its provider declares it cannot do."""


class PrerequisiteMissing(MlinfraError):
    """Pulumi CLI, Docker engine or cloud credentials are missing; says how to get them."""
    exit_code = 4


class StackLocked(MlinfraError):
    """Another update holds the stack's lock."""
    exit_code = 5


class ProtectedStack(MlinfraError):
    """A protected stack (dev, prod, anything not created as a preview) was asked to be destroyed."""
    exit_code = 5
