"""Promotion tests use the Redis fixtures (stores, moto S3 server, candidates)."""

from fixtures.redis import (  # noqa: F401
    candidate_store,
    dev_candidate,
    final_candidate,
    local_store,
    moto_server,
    redis_upstream,
    s3_settings,
    s3_store,
)
