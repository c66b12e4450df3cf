"""Cloud Controller v2 at the HTTP level: discovery, auth, orgs/spaces/domains, routes, paging."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from simulator.cloudcontroller import attach
from tests.simulator.test_cc_fakes import (
    Api,
    _route,
    assert_cc_error,
    bearer,
    make_world,
)


@pytest.fixture
def api(tmp_path: Path) -> Api:
    fw = make_world(tmp_path)
    attach(fw.world)
    return Api(fw)


def test_auth_errors(api: Api) -> None:
    assert_cc_error(api.client.get("/v2/organizations"), 401, 10002, "CF-NotAuthenticated")
    assert_cc_error(api.client.get("/v2/organizations", headers=bearer("x.y.z")), 401, 1000,
                    "CF-InvalidAuthToken")
    api.fw.world.faults.inject("expire_tokens")
    assert_cc_error(api.call("GET", "/v2/organizations"), 401, 1000, "CF-InvalidAuthToken")


def test_token_without_cloud_controller_scope_is_403(api: Api) -> None:
    resp = api.uaa_client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                     "client_id": "nobody", "client_secret": "nobody-secret"})
    token = resp.get_json()["access_token"]
    assert_cc_error(api.call("GET", "/v2/organizations", token=token), 403, 10007, "CF-InsufficientScope")


def test_unknown_path_and_bad_json(api: Api) -> None:
    assert_cc_error(api.call("GET", "/v2/nope"), 404, 10000, "CF-NotFound")
    resp = api.client.post("/v2/organizations", data="{not json", headers=bearer(api.token),
                           content_type="application/json")
    assert_cc_error(resp, 400, 1001, "CF-MessageParseError")


def test_orgs_and_spaces(api: Api) -> None:
    resp = api.call("POST", "/v2/organizations", {"name": "acc-org"})
    assert resp.status_code == 201
    org = resp.get_json()
    org_guid = org["metadata"]["guid"]
    assert resp.headers["Location"] == f"/v2/organizations/{org_guid}"
    assert org["entity"]["name"] == "acc-org"
    assert org["entity"]["status"] == "active"
    assert org["entity"]["spaces_url"] == f"/v2/organizations/{org_guid}/spaces"
    assert_cc_error(api.call("POST", "/v2/organizations", {"name": "acc-org"}), 400, 30002,
                    "CF-OrganizationNameTaken")
    found = api.ok("GET", "/v2/organizations?q=name:acc-org")
    assert found["total_results"] == 1 and found["resources"][0]["metadata"]["guid"] == org_guid
    assert api.ok("GET", "/v2/organizations?q=name:other")["total_results"] == 0

    space = api.ok("POST", "/v2/spaces", {"name": "acc-space", "organization_guid": org_guid}, 201)
    space_guid = space["metadata"]["guid"]
    assert space["entity"]["allow_ssh"] is True
    assert_cc_error(api.call("POST", "/v2/spaces", {"name": "acc-space", "organization_guid": org_guid}),
                    400, 40002, "CF-SpaceNameTaken")
    found = api.ok("GET", f"/v2/spaces?q=name:acc-space&q=organization_guid:{org_guid}")
    assert [r["metadata"]["guid"] for r in found["resources"]] == [space_guid]
    assert api.ok("GET", f"/v2/organizations/{org_guid}/spaces?q=name:acc-space")["total_results"] == 1
    updated = api.ok("PUT", f"/v2/spaces/{space_guid}", {"allow_ssh": False}, 201)
    assert updated["entity"]["allow_ssh"] is False
    assert api.ok("PUT", f"/v2/spaces/{space_guid}/developers/{'u-1'}", None, 201)["metadata"]["guid"] == space_guid
    assert api.ok("PUT", f"/v2/organizations/{org_guid}/users/u-1", None, 201)["metadata"]["guid"] == org_guid
    assert_cc_error(api.call("GET", "/v2/spaces/missing"), 404, 40004, "CF-SpaceNotFound")
    assert_cc_error(api.call("GET", "/v2/organizations/missing"), 404, 30003, "CF-OrganizationNotFound")


def test_inline_relations_depth_one(api: Api) -> None:
    org_guid, space_guid = api.org_space()
    body = api.ok("GET", "/v2/spaces?q=name:s&inline-relations-depth=1")
    entity = body["resources"][0]["entity"]
    assert entity["organization"]["metadata"]["guid"] == org_guid
    assert entity["apps"] == []
    assert "organization" not in api.ok("GET", f"/v2/spaces/{space_guid}")["entity"]


def test_delete_org_needs_recursive_when_not_empty(api: Api) -> None:
    org_guid, space_guid = api.org_space()
    refused = api.call("DELETE", f"/v2/organizations/{org_guid}")
    assert_cc_error(refused, 400, 10006, "CF-AssociationNotEmpty")
    assert refused.get_json()["description"] == "Please delete the spaces associations for your organizations."
    resp = api.call("DELETE", f"/v2/organizations/{org_guid}?recursive=true&async=true")
    assert resp.status_code == 202
    job = resp.get_json()
    assert job["entity"]["status"] == "finished"
    assert api.call("GET", f"/v2/spaces/{space_guid}").status_code == 404
    assert api.call("GET", f"/v2/organizations/{org_guid}").status_code == 404


def test_delete_space_names_the_associations_that_are_not_empty(api: Api) -> None:
    """raise_if_has_associations! (cloud_controller_ng@64d935a model_controller.rb:269-280)
    lists only the non-empty `:destroy` associations, then the table name."""
    _org_guid, space_guid = api.org_space()
    resp, _domain = _route(api, space_guid)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    refused = api.call("DELETE", f"/v2/spaces/{space_guid}")
    assert_cc_error(refused, 400, 10006, "CF-AssociationNotEmpty")
    assert refused.get_json()["description"] == "Please delete the routes associations for your spaces."
    api.ok("POST", "/v2/apps", {"name": "a", "space_guid": space_guid}, 201)
    both = api.call("DELETE", f"/v2/spaces/{space_guid}").get_json()["description"]
    assert both == "Please delete the apps, routes associations for your spaces."


def test_shared_domains_and_stacks(api: Api) -> None:
    domains = api.ok("GET", "/v2/shared_domains")
    assert [r["entity"]["name"] for r in domains["resources"]] == ["bosh-lite.com"]
    assert domains["resources"][0]["entity"]["router_group_guid"] is None
    assert api.ok("GET", "/v2/shared_domains?q=name:bosh-lite.com")["total_results"] == 1
    assert api.ok("GET", "/v2/shared_domains?q=name:other.com")["total_results"] == 0
    stacks = api.ok("GET", "/v2/stacks?q=name:cflinuxfs2")
    assert stacks["resources"][0]["entity"]["name"] == "cflinuxfs2"
    assert_cc_error(api.call("GET", "/v2/shared_domains?q=bogus:1"), 400, 10005, "CF-BadQueryParameter")


def test_pagination_envelope(api: Api) -> None:
    for i in range(5):
        api.ok("POST", "/v2/organizations", {"name": f"org-{i}"}, 201)
    page1 = api.ok("GET", "/v2/organizations?results-per-page=2")
    assert page1["total_results"] == 5 and page1["total_pages"] == 3
    assert page1["prev_url"] is None
    assert page1["next_url"] == "/v2/organizations?order-direction=asc&page=2&results-per-page=2"
    assert [r["entity"]["name"] for r in page1["resources"]] == ["org-0", "org-1"]
    page3 = api.ok("GET", "/v2/organizations?results-per-page=2&page=3")
    assert page3["next_url"] is None and [r["entity"]["name"] for r in page3["resources"]] == ["org-4"]
    desc = api.ok("GET", "/v2/organizations?order-direction=desc&results-per-page=1")
    assert desc["resources"][0]["entity"]["name"] == "org-4"
    assert_cc_error(api.call("GET", "/v2/organizations?results-per-page=101"), 400, 10005,
                    "CF-BadQueryParameter")
    names = api.ok("GET", "/v2/organizations?q=name%20IN%20org-1,org-3")
    assert sorted(r["entity"]["name"] for r in names["resources"]) == ["org-1", "org-3"]


def test_routes_create_find_reserve_delete(api: Api) -> None:
    _, space_guid = api.org_space()
    resp, domain_guid = _route(api, space_guid)
    assert resp.status_code == 201
    route = resp.get_json()
    route_guid = route["metadata"]["guid"]
    assert route["entity"]["host"] == "acc-app" and route["entity"]["path"] == ""
    assert route["entity"]["domain_guid"] == domain_guid
    assert route["entity"]["apps_url"] == f"/v2/routes/{route_guid}/apps"
    taken, _ = _route(api, space_guid)
    assert_cc_error(taken, 400, 210003, "CF-RouteHostTaken")
    with_path, _ = _route(api, space_guid, path="/p")
    assert with_path.status_code == 201
    path_taken, _ = _route(api, space_guid, path="/p")
    assert_cc_error(path_taken, 400, 210004, "CF-RoutePathTaken")
    invalid, _ = _route(api, space_guid, host="bad host!")
    assert_cc_error(invalid, 400, 210001, "CF-RouteInvalid")

    legacy = api.ok("GET", f"/v2/routes?q=host:acc-app;domain_guid:{domain_guid}&inline-relations-depth=1")
    assert legacy["total_results"] == 2
    assert legacy["resources"][0]["entity"]["domain"]["entity"]["name"] == "bosh-lite.com"
    exact = api.ok("GET", f"/v2/routes?q=host:acc-app&q=domain_guid:{domain_guid}&q=path:/p")
    assert exact["total_results"] == 1
    v653 = api.ok("GET", f"/v2/routes?q=host:acc-app&q=domain_guid:{domain_guid}&q=path:&q=port:")
    assert [r["metadata"]["guid"] for r in v653["resources"]] == [route_guid]
    assert api.ok("GET", f"/v2/domains/{domain_guid}")["entity"]["name"] == "bosh-lite.com"
    assert api.call("GET", f"/v2/routes/reserved/domain/{domain_guid}/host/acc-app").status_code == 204
    assert api.call("GET", f"/v2/routes/reserved/domain/{domain_guid}/host/free").status_code == 404
    assert api.call("GET", f"/v2/routes/reserved/domain/{domain_guid}/host/acc-app?path=/p").status_code == 204
    assert api.call("DELETE", f"/v2/routes/{route_guid}").status_code == 204
    assert_cc_error(api.call("GET", f"/v2/routes/{route_guid}"), 404, 210002, "CF-RouteNotFound")
    assert api.call("GET", f"/v2/routes/reserved/domain/{domain_guid}/host/acc-app").status_code == 404


def test_resource_match_and_null_job(api: Api) -> None:
    assert api.ok("PUT", "/v2/resource_match", [{"sha1": "abc", "size": 1}]) == []
    job = api.ok("GET", "/v2/jobs/unknown")
    assert job["entity"]["status"] == "finished"


def test_filter_operators() -> None:
    from types import SimpleNamespace

    from simulator.cloudcontroller.errors import CCError
    from simulator.cloudcontroller.query import apply_filters

    rows = [SimpleNamespace(n=i, t=f"2015-11-05T16:33:3{i}Z", b=i % 2 == 0) for i in range(5)]
    getters = {"n": lambda r: r.n, "t": lambda r: r.t, "b": lambda r: r.b}
    assert [r.n for r in apply_filters(rows, ["n>=3"], getters)] == [3, 4]
    assert [r.n for r in apply_filters(rows, ["n<1"], getters)] == [0]
    assert [r.n for r in apply_filters(rows, ["t>2015-11-05T16:33:32Z"], getters)] == [3, 4]
    assert [r.n for r in apply_filters(rows, ["b:true;n<=2"], getters)] == [0, 2]
    assert [r.n for r in apply_filters(rows, ["n IN 1,4"], getters)] == [1, 4]
    with pytest.raises(CCError) as err:
        apply_filters(rows, ["nonsense"], getters)
    assert err.value.code == 10005


def test_fingerprint_falls_back_to_the_running_ssh_proxy_key(tmp_path: Path) -> None:
    from types import SimpleNamespace

    fw = make_world(tmp_path)
    del fw.instances["api"].properties["app_ssh"]["host_key_fingerprint"]
    attach(fw.world)
    client = Client(fw.world.components["cc"].wsgi)
    assert client.get("/v2/info").get_json()["app_ssh_host_key_fingerprint"] is None
    fw.world.components["ssh"] = SimpleNamespace(host_key_fingerprint=lambda: "11:22")
    assert client.get("/v2/info").get_json()["app_ssh_host_key_fingerprint"] == "11:22"
