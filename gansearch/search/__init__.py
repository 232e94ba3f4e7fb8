"""The search layer: sweeps of compression trials on Ray Tune, tracked in MLflow.

``spec`` parses the search-space YAML; ``recipe`` turns its steps into calls of the compression
core; ``trial`` runs one trial (no Ray); ``trainable`` runs it as a Ray Tune trial; ``tracking``
logs to MLflow; ``sweep`` drives the whole search.
"""
