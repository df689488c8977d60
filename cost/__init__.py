"""Monthly cost estimates read from a Plan and the per-cloud price files in `cost/prices/`.

`cost.estimate.estimate(plan)` prices each resource by its type token's rule (cost/rules.py);
usage-driven lines (storage GB, requests, training hours) are marked as assumptions, free
resources are skipped, and anything else without a rule is reported as unpriced, never zero.
"""
