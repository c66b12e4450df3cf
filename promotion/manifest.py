"""A deployment's manifest: spiff merge of a candidate's templates and a director stub.

Merge order (template first, most specific last, as in redis-boshrelease's make_manifest):

    upstream/deployment.yml  upstream/jobs.yml  networking-<env>.yml  scaling-<env>.yml  director stub

Our networking template takes the place of upstream's `infrastructure-warden.yml`: that
file pins one warden deployment's networks (10.244.2.x) and static IPs, and in spiff the
leftmost stub supplies merged lists while the rightmost supplies leaves, so per-environment
networks cannot be layered over it. The director stub is generated at deploy time: the
director's uuid, the candidate's release versions and stemcell, the job templates, and the
Redis password (a credential, never stored in a candidate).
"""

from __future__ import annotations

from typing import Any

from promotion.candidate import Candidate


def director_stub(candidate: Candidate, director_uuid: str, password: str) -> dict[str, Any]:
    stemcell = candidate.stemcell
    return {
        "meta": {
            "stemcell": {"name": stemcell["name"], "version": str(stemcell["version"])},
            "job_templates": [{"name": "redis", "release": "redis"}],
            "password": password,
        },
        "director_uuid": director_uuid,
        "releases": [{"name": r["name"], "version": str(r["version"])} for r in candidate.releases],
    }


def render(candidate: Candidate, env: str, director_uuid: str, password: str) -> dict[str, Any]:
    from manifests.spiff import merge

    docs = candidate.template_docs(env)
    docs.append(("director stub", director_stub(candidate, director_uuid, password)))
    return merge(docs)


def deployment_name(candidate: Candidate, env: str) -> str:
    """The deployment name (`meta.environment` of the networking template) without a merge."""
    docs = dict(candidate.template_docs(env))
    name = (docs[f"environments/{env}/networking.yml"] or {}).get("meta", {}).get("environment")
    if not name:
        raise ValueError(f"networking template for {env} sets no meta.environment")
    return str(name)
