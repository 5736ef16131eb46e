"""Operations: metrics, logs, rate limits, readiness and backups.

Each concern is one small module wired in the app factory (``api/app.py``) or the CLI, never
sprinkled through the handlers: the HTTP ones are ASGI middleware around the API, the rest
read what the runtime, the store, the callback dispatcher and the cluster node already keep.
"""
