"""What the deployed Cloud Controller is and how it is configured: the running
`cloud_controller_ng` instances' properties and cf release (its era: API 2.39.0 at cf v220,
2.51.0 at v231, `era.py`), its index, the URLs its job template renders, and `/v2/info`.

The last ones seen are kept, so that desired state and defaults survive a CC restart.
"""

from __future__ import annotations

from typing import Any

from simulator.cloudcontroller.deployed import dig, parse_app_domains
from simulator.cloudcontroller.era import CcEra, era_of


class CcSettings:
    def __init__(self, world: Any) -> None:
        self.world = world
        self._last_props: dict[str, Any] = {}
        self._last_cf_version: str | None = None
        self._last_index = 0

    def _observe(self) -> None:
        """Remember the running CC's properties, cf release version and index."""
        running = self.world.running_with("cloud_controller_ng")
        if running:
            view = running[0]
            self._last_props = view.properties
            template = view.template("cloud_controller_ng")
            self._last_cf_version = template.release_version if template is not None else None
            self._last_index = view.index

    def properties(self) -> dict[str, Any]:
        self._observe()
        return self._last_props

    def era(self) -> CcEra:
        """Which CC is deployed: the cf release of the running `cloud_controller_ng`."""
        self._observe()
        return era_of(self._last_cf_version)

    def instance_index(self) -> int:
        """CC's `index` (its BOSH instance index): the source instance of its log lines."""
        self._observe()
        return self._last_index

    def prop(self, dotted: str, default: Any = None) -> Any:
        return dig(self.properties(), dotted, default)

    def system_domain(self) -> str:
        return str(self.prop("system_domain") or self.prop("domain") or self.world.system_domain)

    def app_domain_names(self) -> list[str]:
        return parse_app_domains(self.prop("app_domains")) or [self.world.apps_domain]

    def allow_app_ssh_access(self) -> bool:
        return bool(self.prop("cc.allow_app_ssh_access", True))  # job spec default

    def ssh_fingerprint(self) -> str | None:
        """`app_ssh.host_key_fingerprint` as deployed; when the manifest leaves it out, the
        running ssh proxy's own key (the simulator's stand-in for the operator's
        `enable_diego_ssh_in_cf.yml` stub, which publishes the proxy key's fingerprint)."""
        configured = self.prop("app_ssh.host_key_fingerprint")
        if configured:
            return str(configured)
        proxy = self.world.components.get("ssh")
        if proxy is not None and hasattr(proxy, "host_key_fingerprint"):
            try:
                return str(proxy.host_key_fingerprint())
            except Exception:
                return None
        return None

    def endpoints(self) -> dict[str, str]:
        """The URLs CC's job template renders from the manifest (bosh-templates/
        cloud_controller_api.yml.erb @64d935a: `domain` for UAA/login/routing, `system_domain`
        for ssh and logging; ports from `logger_endpoint.port`, `doppler.port`, `app_ssh.port`
        with the job spec's defaults)."""
        domain = str(self.prop("domain") or self.system_domain())
        system = self.system_domain()

        def ws(key: str, host: str) -> str:
            scheme = "wss" if self.prop(f"{key}.use_ssl", True) else "ws"
            return f"{scheme}://{host}.{system}:{self.prop(f'{key}.port', 443)}"

        return {"api": f"https://api.{domain}", "login": f"https://login.{domain}",
                "uaa": f"https://uaa.{domain}", "routing": f"https://api.{domain}/routing",
                "logging": ws("logger_endpoint", "loggregator"), "doppler": ws("doppler", "doppler"),
                "ssh": f"ssh.{system}:{self.prop('app_ssh.port', 2222)}"}

    def info(self, user_id: str | None) -> dict[str, Any]:
        """`GET /v2/info` exactly as InfoController#read builds it (app/controllers/runtime/
        info_controller.rb @64d935a, unchanged at b7cf099): thirteen keys always, in this
        order, then the conditional ones. No log-cache, no links: that CC had neither."""
        era, ep = self.era(), self.endpoints()

        def text(prop: str, key: str) -> Any:
            value = self.prop(prop)
            return era.info_default(key) if value in (None, "") else value

        body: dict[str, Any] = {
            "name": text("name", "name"), "build": text("build", "build"),
            "support": text("support_address", "support"), "version": text("version", "version"),
            "description": text("description", "description"),
            "authorization_endpoint": ep["login"] if self.prop("login.enabled", True) else ep["uaa"],
            "token_endpoint": ep["uaa"],
            "min_cli_version": self.prop("cc.min_cli_version"),
            "min_recommended_cli_version": self.prop("cc.min_recommended_cli_version"),
            "api_version": era.api_version,
            # the template renders these under `if_p("cc.allow_app_ssh_access")`, which holds
            # whenever the property has a value (its spec default is true), even `false`
            "app_ssh_endpoint": ep["ssh"],
            "app_ssh_host_key_fingerprint": self.ssh_fingerprint(),
            "app_ssh_oauth_client": self.prop("app_ssh.oauth_client_id", "ssh-proxy"),
            "routing_endpoint": ep["routing"]}
        if self.prop("metron_endpoint.shared_secret") or self.prop("loggregator_endpoint.shared_secret"):
            body["logging_endpoint"] = ep["logging"]
        if self.prop("doppler.enabled", True):
            body["doppler_logging_endpoint"] = ep["doppler"]
        custom = self.prop("cc.info.custom")
        if custom:
            body["custom"] = custom
        if user_id:
            body["user"] = user_id
        return body
