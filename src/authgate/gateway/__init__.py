"""The gate: routes, path normalization and the authenticate -> authorize -> mutate pipeline."""
