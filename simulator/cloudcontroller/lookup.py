"""Finding CC's records by guid, with the v2 error a client gets when one is missing.

Every part of the CC looks records up the same way; keeping it here lets the parts depend on
the store and this module instead of on each other.
"""

from __future__ import annotations

from typing import Any

from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import App, Organization, Route, Space, Store


def _found(store: Store, collection: str, guid: str, missing: str) -> Any:
    record = store.get(collection, guid)
    if record is None:
        raise CCError(missing, guid)
    return record


def org(store: Store, guid: str) -> Organization:
    return _found(store, "organizations", guid, "OrganizationNotFound")


def space(store: Store, guid: str) -> Space:
    return _found(store, "spaces", guid, "SpaceNotFound")


def app(store: Store, guid: str) -> App:
    return _found(store, "apps", guid, "AppNotFound")


def route(store: Store, guid: str) -> Route:
    return _found(store, "routes", guid, "RouteNotFound")


def routes_of_app(store: Store, app_guid: str) -> list[Route]:
    return [r for r in store.all("routes") if app_guid in r.app_guids]
