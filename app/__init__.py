"""The ML inference service that mlinfra deploys: a digits classifier behind FastAPI.

This package is copied alone into the container (the Docker build context is `app/`), so it
imports nothing from the rest of the repository. Importing it is cheap: the heavy modules
(numpy, fastapi) are imported by the submodules that need them.
"""
from __future__ import annotations

from pathlib import Path

# The committed artefact: weights, model card and self-test sample written by app/train.py.
MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_NAME = "digits"
