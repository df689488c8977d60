"""Google Cloud: the provider and its builders (imported on first use by provider.py)."""
