"""A deployment's manifest: spiff merge of a candidate's templates and a director stub.

Merge order (template first, most specific last, as in redis-boshrelease's make_manifest):

    upstream/deployment.yml  upstream/jobs.yml  networking-<env>.yml  scaling-<env>.yml  director stub

Our networking template takes the place of upstream's `infrastructure-warden.yml`: that
file pins one warden deployment's networks (10.244.2.x) and static IPs, and in spiff the
leftmost stub supplies merged lists while the rightmost supplies leaves, so per-environment
networks cannot be layered over it. The director stub is generated at deploy time: the
director's uuid, the candidate's release versions and stemcell, the job templates, and the
Redis password (a credential, never stored in a candidate).

The deployment's name comes out of the templates (`meta.environment` of the networking
template); the tool never takes it from there. It checks the name against the environment's
binding in the pipeline's policy (promotion/policy.py) and talks to the director only about
the bound deployment.
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


def render_all(candidate: Candidate, director_uuids: dict[str, str], password: str) -> dict[str, dict[str, Any]]:
    """Every environment's manifest as the candidate renders it (for the binding checks:
    which deployment and which director each one would change)."""
    return {env: render(candidate, env, director_uuids[env], password) for env in candidate.environments}
