"""The generated manifests are accepted by the embedded simulator's director binding
(release/stemcell resolution, job templates per release version, networks, static IPs)."""

from __future__ import annotations

import pytest
from manifest_facts import UUID

import simulator.catalog as catalog_mod
import simulator.director.manifest as manifest_mod


class _Store:
    uuid = UUID

    def __init__(self) -> None:
        self.catalog = catalog_mod.load_catalog()

    def resolve_release(self, name: str, version: str):
        return str(version), tuple(self.catalog.release(name, str(version)).jobs)

    def resolve_stemcell(self, name, os, version):
        stemcell = self.catalog.stemcell(name, str(version))
        return stemcell.name, stemcell.version


@pytest.mark.parametrize("version_set", ["v0", "v_prime"])
def test_simulator_director_accepts_every_piece(version_set, request):
    manifests = request.getfixturevalue(version_set)
    store = _Store()
    for piece, manifest in manifests.items():
        plan = manifest_mod.bind(manifest, store)
        assert plan.group(manifest["jobs"][0]["name"]) is not None, piece
