"""Finding CC's records by guid, with the v2 error a client gets when one is missing.

Every part of the CC looks records up the same way; keeping it here lets the parts depend on
the store and this module instead of on each other.
"""

from __future__ import annotations

from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import App, Organization, Route, Space, Store


def org(store: Store, guid: str) -> Organization:
    found = store.get("organizations", guid)
    if found is None:
        raise CCError("OrganizationNotFound", guid)
    return found


def space(store: Store, guid: str) -> Space:
    found = store.get("spaces", guid)
    if found is None:
        raise CCError("SpaceNotFound", guid)
    return found


def app(store: Store, guid: str) -> App:
    found = store.get("apps", guid)
    if found is None:
        raise CCError("AppNotFound", guid)
    return found


def route(store: Store, guid: str) -> Route:
    found = store.get("routes", guid)
    if found is None:
        raise CCError("RouteNotFound", guid)
    return found


def routes_of_app(store: Store, app_guid: str) -> list[Route]:
    return [r for r in store.all("routes") if app_guid in r.app_guids]
