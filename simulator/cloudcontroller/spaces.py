"""CC's organizations and their spaces: create, update, delete (recursively: a space's apps
and routes go with it, and Diego forgets the apps)."""

from __future__ import annotations

from typing import Any

from simulator.cloudcontroller import lookup
from simulator.cloudcontroller.ccbridge import CCBridge
from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import Organization, Space, Store


class Spaces:
    def __init__(self, store: Store, bridge: CCBridge) -> None:
        self.store = store
        self.bridge = bridge

    def org(self, guid: str) -> Organization:
        return lookup.org(self.store, guid)

    def space(self, guid: str) -> Space:
        return lookup.space(self.store, guid)

    def create_org(self, body: dict[str, Any]) -> Organization:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CCError("InvalidRequest")
        with self.store.lock:
            if self.store.find("organizations", name=name):
                raise CCError("OrganizationNameTaken", name)
            return self.store.add("organizations", Organization(
                name=name, quota_definition_guid=body.get("quota_definition_guid")))

    def update_org(self, guid: str, body: dict[str, Any]) -> Organization:
        with self.store.lock:
            org = self.org(guid)
            name = body.get("name")
            if name and name != org.name:
                if self.store.find("organizations", name=name):
                    raise CCError("OrganizationNameTaken", name)
                org.name = name
            if body.get("status") in ("active", "suspended"):
                org.status = body["status"]
            org.touch()
            return org

    def delete_org(self, guid: str, recursive: bool) -> None:
        with self.store.lock:
            self.org(guid)
            spaces = self.store.find("spaces", organization_guid=guid)
            if spaces and not recursive:
                raise CCError("AssociationNotEmpty", "spaces", "organizations")  # Organization.table_name
            for space in spaces:
                self.delete_space(space.guid, recursive=True)
            self.store.remove("organizations", guid)

    def create_space(self, body: dict[str, Any]) -> Space:
        name, org_guid = body.get("name"), body.get("organization_guid")
        if not isinstance(name, str) or not name.strip() or not org_guid:
            raise CCError("InvalidRequest")
        with self.store.lock:
            if self.store.get("organizations", org_guid) is None:
                raise CCError("InvalidRelation", f"Could not find Organization with guid: {org_guid}")
            if self.store.find("spaces", name=name, organization_guid=org_guid):
                raise CCError("SpaceNameTaken", name)
            return self.store.add("spaces", Space(name=name, organization_guid=org_guid,
                                                  allow_ssh=bool(body.get("allow_ssh", True))))

    def update_space(self, guid: str, body: dict[str, Any]) -> Space:
        with self.store.lock:
            space = self.space(guid)
            name = body.get("name")
            if name and name != space.name:
                if self.store.find("spaces", name=name, organization_guid=space.organization_guid):
                    raise CCError("SpaceNameTaken", name)
                space.name = name
            if "allow_ssh" in body:
                space.allow_ssh = bool(body["allow_ssh"])
            space.touch()
            return space

    def delete_space(self, guid: str, recursive: bool) -> None:
        with self.store.lock:
            self.space(guid)
            apps = self.store.find("apps", space_guid=guid)
            routes = self.store.find("routes", space_guid=guid)
            if (apps or routes) and not recursive:
                # raise_if_has_associations!: the non-empty `:destroy` associations, then the table
                not_empty = [name for name, rows in (("apps", apps), ("routes", routes)) if rows]
                raise CCError("AssociationNotEmpty", ", ".join(not_empty), "spaces")
            for app in apps:
                self.store.remove("apps", app.guid)
            for route in routes:
                self.store.remove("routes", route.guid)
            self.store.remove("spaces", guid)
        self.bridge.sync()
