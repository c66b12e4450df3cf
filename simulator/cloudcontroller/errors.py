"""Cloud Controller v2 errors (`cc@v220:vendor/errors/v2.yml`): one exception, one catalog.

Models raise `CCError("AppNotFound", guid)`; the HTTP layer renders
`{"code", "description", "error_code"}` with the catalog's status.
"""

from __future__ import annotations

# name -> (http status, code, description template)
CATALOG: dict[str, tuple[int, int, str]] = {
    "InvalidAuthToken": (401, 1000, "Invalid Auth Token"),
    "MessageParseError": (400, 1001, "Request invalid due to parse error: {}"),
    "InvalidRelation": (400, 1002, "{}"),
    "NotFound": (404, 10000, "Unknown request"),
    "NotAuthenticated": (401, 10002, "Authentication error"),
    "NotAuthorized": (403, 10003, "You are not authorized to perform the requested action"),
    "InvalidRequest": (400, 10004, "The request is invalid"),
    "BadQueryParameter": (400, 10005, "The query parameter is invalid: {}"),
    "AssociationNotEmpty": (400, 10006, "Please delete the {} associations for your {}."),
    "InsufficientScope": (403, 10007, "Your token lacks the necessary scopes to access this resource."),
    "ResourceNotFound": (404, 10010, "{}"),
    "OrganizationNameTaken": (400, 30002, "The organization name is taken: {}"),
    "OrganizationNotFound": (404, 30003, "The organization could not be found: {}"),
    "SpaceNameTaken": (400, 40002, "The app space name is taken: {}"),
    "SpaceNotFound": (404, 40004, "The app space could not be found: {}"),
    "AppInvalid": (400, 100001, "The app is invalid: {}"),
    "AppNameTaken": (400, 100002, "The app name is taken: {}"),
    "AppNotFound": (404, 100004, "The app could not be found: {}"),
    "AppMemoryInvalid": (400, 100006, "You have specified an invalid amount of memory for your application."),
    "DomainNotFound": (404, 130002, "The domain could not be found: {}"),
    "AppPackageInvalid": (400, 150001, "The app package is invalid: {}"),
    "AppBitsUploadInvalid": (400, 160001, "The app upload is invalid: {}"),
    "StagingError": (400, 170001, "Staging error: {}"),
    "NotStaged": (400, 170002, "App has not finished staging"),
    "NoAppDetectedError": (400, 170003, "An app was not successfully detected by any available buildpack"),
    "BuildpackCompileFailed": (400, 170004, "App staging failed in the buildpack compile phase"),
    "BuildpackReleaseFailed": (400, 170005, "App staging failed in the buildpack release phase"),
    "StagingTimeExpired": (504, 170007, "Staging time expired: {}"),
    "InsufficientResources": (400, 170008, "Insufficient resources"),
    "NoCompatibleCell": (400, 170009, "Found no compatible cell"),
    "RunnerUnavailable": (503, 170015, "Runner is unavailable: {}"),
    "StackNotFound": (404, 250003, "The stack could not be found: {}"),
    "AppStoppedStatsError": (400, 200003, "Could not fetch stats for stopped app: {}"),
    "RouteInvalid": (400, 210001, "The route is invalid: {}"),
    "RouteNotFound": (404, 210002, "The route could not be found: {}"),
    "RouteHostTaken": (400, 210003, "The host is taken: {}"),
    "RoutePathTaken": (400, 210004, "The path is taken: {}"),
    "InstancesError": (400, 220001, "Instances error: {}"),
    "InstancesUnavailable": (503, 220002, "Instances information unavailable: {}"),
    "JobNotFound": (404, 10010, "The job could not be found: {}"),
}


class CCError(Exception):
    def __init__(self, name: str, *args: object, description: str | None = None) -> None:
        status, code, template = CATALOG[name]
        if description is None:
            description = template.format(*args) if "{}" in template else template
        super().__init__(description)
        self.name = name
        self.status = status
        self.code = code
        self.description = description

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "description": self.description, "error_code": f"CF-{self.name}"}


STAGING_FAILURES = ("StagingError", "StagingTimeExpired", "NoAppDetectedError", "BuildpackCompileFailed",
                    "BuildpackReleaseFailed", "InsufficientResources", "NoCompatibleCell")
