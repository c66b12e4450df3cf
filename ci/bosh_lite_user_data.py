"""The first-boot script of a BOSH-Lite launched on EC2 (its EC2 user data).

Why each part exists:

* **Port forwarding.** CF's front door on a BOSH-Lite is HAProxy in a warden container
  (10.244.0.34 in the bosh-lite manifests); the world reaches only the VM's own address.
  The BOSH-Lite AWS box did this with `iptables -t nat -A PREROUTING ... -j DNAT` for 80, 443
  and 4443 from a Vagrant provisioner, and its docs say the rules "are cleared on restart"
  (cloudfoundry/bosh-lite@295b76d:packer/templates/vagrant-aws.tpl:69-71,
  docs/aws-provider.md). We add 2222 (HAProxy's ssh-proxy frontend, era-facts §5), match
  on the external interface and `--dst-type LOCAL` (the private IP may change across a stop
  and start), install the rules as a script, and run that script from `/etc/rc.local` at
  every boot (Ubuntu 14.04, the box's base, runs rc.local at the end of each boot).
* **Containers kept away from the instance metadata.** EC2 serves this user data, which
  holds the new director password, at 169.254.169.254; warden masquerades container
  traffic out of the VM, so an app pushed to this CF could read it. A FORWARD rule drops
  container traffic to that address (installed with the same persistence).
* **Director credentials.** The box's director has no users, and while its users table is
  empty it accepts admin/admin only (bosh@5ea8a74f9d:bosh-director/lib/bosh/director/api/
  user/database_user_manager.rb:10-14). Creating a user with `POST /users` (JSON
  `{"username","password"}`, 204; api/controllers/users_controller.rb:12-19) makes admin/admin
  stop working. The script does that as soon as the director answers on loopback, checks
  that admin/admin is refused and the new credentials are accepted, then removes cloud-init's
  local copies of this script. It never prints a credential; the password is passed to curl
  in a root-only file, never on a command line.

`render()` writes the script; `tests/ci/test_bosh_lite_user_data.py` runs it in a network
namespace with the real iptables and a fake director, and replays a reboot.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping

HAPROXY_ADDRESS = "10.244.0.34"  # ha_proxy_z1 in the bosh-lite manifests (ours and cf-release's)
DIRECTOR_ADDRESS = "192.168.50.4"  # the SAN of the BOSH-Lite director certificate (era-facts §6)
CONTAINER_NETWORK = "10.244.0.0/16"
METADATA_ADDRESS = "169.254.169.254"
# port on the VM -> container address: CF API/apps (80, 443), doppler websockets (4443),
# the Diego ssh proxy through HAProxy's 2222 frontend
DEFAULT_FORWARDS: Mapping[int, tuple[str, int]] = {
    80: (HAPROXY_ADDRESS, 80), 443: (HAPROXY_ADDRESS, 443),
    2222: (HAPROXY_ADDRESS, 2222), 4443: (HAPROXY_ADDRESS, 4443),
}
FORWARDING_SCRIPT = "/usr/local/sbin/bosh-lite-port-forwarding"
RC_LOCAL = "/etc/rc.local"
RC_LOCAL_MARK = "# bosh-lite port forwarding (ci.bosh_lite)"
_CREDENTIAL = re.compile(r"[A-Za-z0-9._~-]{1,128}")

_TEMPLATE = r"""#!/bin/bash
# First boot of a CI BOSH-Lite (written by ci.bosh_lite; see ci/bosh_lite_user_data.py).
# Never echoes a credential: no `set -x` here.
set -euo pipefail
umask 077
ROOT="${BOSH_LITE_FS_ROOT:-}"   # a prefix for the files written, for tests on another machine
DIRECTOR_URL="${BOSH_LITE_DIRECTOR_URL:-https://__DIRECTOR_ADDRESS__:25555}"
# curl's TLS options: the BOSH-Lite CA, and the certificate's address (its only SAN) sent to loopback.
# Arrays always hold an element: bash 4.3 (Ubuntu 14.04) calls an empty "${a[@]}" unbound under set -u.
if [ -n "${BOSH_LITE_CURL_TLS+set}" ]; then
  read -r -a CURL_TLS <<< "-sS $BOSH_LITE_CURL_TLS"
else
  CURL_TLS=(-sS __CURL_VERIFY__ --resolve "__DIRECTOR_ADDRESS__:25555:127.0.0.1")
fi
WAIT_SECONDS="${BOSH_LITE_DIRECTOR_WAIT:-1800}"
log() { echo "bosh-lite first boot: $*"; }

install_forwarding() {
  mkdir -p "$ROOT/usr/local/sbin"
  cat > "$ROOT__FORWARDING_SCRIPT__" <<'RULES'
#!/bin/bash
# Re-applied at every boot from /etc/rc.local; safe to run again (each rule is added once).
set -eu
ext_if="${BOSH_LITE_EXTERNAL_IF:-$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')}"
if [ -z "$ext_if" ]; then
  echo "bosh-lite port forwarding: no default route, cannot tell the external interface" >&2
  exit 1
fi
add() {  # add the rule unless it is already there
  local table="$1"; shift
  iptables -t "$table" -C "$@" 2>/dev/null || iptables -t "$table" -A "$@"
}
__FORWARD_RULES__
add filter FORWARD -s __CONTAINER_NETWORK__ -d __METADATA_ADDRESS__ -j DROP
RULES
  chmod 0755 "$ROOT__FORWARDING_SCRIPT__"
  local rc="$ROOT__RC_LOCAL__"
  if [ ! -f "$rc" ]; then
    printf '#!/bin/sh -e\nexit 0\n' > "$rc"
  fi
  if ! grep -qF "__RC_LOCAL_MARK__" "$rc"; then
    # before the final `exit 0` that Ubuntu's rc.local ends with
    local tmp="$rc.new"
    awk -v hook="__RC_LOCAL_MARK__\n__FORWARDING_SCRIPT__ || true" '
      /^exit 0/ && !done { print hook; done = 1 } { print } END { if (!done) print hook }' "$rc" > "$tmp"
    mv "$tmp" "$rc"
  fi
  chmod 0755 "$rc"
  "$ROOT__FORWARDING_SCRIPT__"
  log "port forwarding installed (re-applied at every boot by rc.local)"
}

director_user() {  # prints the user the director sees for these credentials ("" = refused)
  local netrc="$1"
  curl --max-time 10 "${CURL_TLS[@]}" --netrc-file "$netrc" "$DIRECTOR_URL/info" |
    sed -n 's/.*"user": *"\([^"]*\)".*/\1/p'
}

rotate_director_credentials() {
  mkdir -p "$ROOT/etc"
  __WRITE_CA__
  local secrets; secrets="$(mktemp -d)"
  trap 'rm -rf "$secrets"' RETURN
  local host; host="$(printf '%s' "$DIRECTOR_URL" | sed -E 's#^[a-z]+://##; s#[:/].*##')"
  printf 'machine %s login admin password admin\n' "$host" > "$secrets/default"
  printf 'machine %s login %s password %s\n' "$host" __USERNAME__ __PASSWORD__ > "$secrets/new"
  printf '%s' __USER_JSON__ > "$secrets/user.json"
  local deadline=$((SECONDS + WAIT_SECONDS))
  until curl --fail --max-time 10 -o /dev/null "${CURL_TLS[@]}" "$DIRECTOR_URL/info" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the director did not answer on loopback within ${WAIT_SECONDS}s; credentials NOT replaced" >&2
      return 1
    fi
    sleep 5
  done
  if [ "$(director_user "$secrets/new")" = __USERNAME__ ]; then
    log "director credentials were already replaced"
    return 0
  fi
  local status
  status="$(curl --max-time 30 -o /dev/null -w '%{http_code}' "${CURL_TLS[@]}" --netrc-file "$secrets/default" \
    -X POST -H 'Content-Type: application/json' --data-binary @"$secrets/user.json" "$DIRECTOR_URL/users")"
  if [ "$status" != 204 ]; then
    log "POST /users answered $status instead of 204; credentials NOT replaced" >&2
    return 1
  fi
  if [ -n "$(director_user "$secrets/default")" ]; then
    log "the director still accepts admin/admin after the new user was created" >&2
    return 1
  fi
  if [ "$(director_user "$secrets/new")" != __USERNAME__ ]; then
    log "the director does not accept the new credentials" >&2
    return 1
  fi
  log "director credentials replaced; admin/admin is refused"
}

scrub_user_data() {  # cloud-init keeps copies of this script; they hold the password
  rm -f "$ROOT"/var/lib/cloud/instance/user-data.txt* "$ROOT"/var/lib/cloud/instance/scripts/part-* 2>/dev/null || true
}

install_forwarding
rotate_director_credentials
scrub_user_data
log "done"
"""


def _quote(value: str) -> str:
    return shlex.quote(value)


def forward_rules(forwards: Mapping[int, tuple[str, int]]) -> list[str]:
    """The `add nat PREROUTING ...` lines of the forwarding script, one per port."""
    return [
        f'add nat PREROUTING -i "$ext_if" -p tcp -m addrtype --dst-type LOCAL --dport {port} '
        f"-j DNAT --to-destination {address}:{target_port}"
        for port, (address, target_port) in sorted(forwards.items())
    ]


def render(*, director_username: str, director_password: str, director_ca_pem: str | None,
           forwards: Mapping[int, tuple[str, int]] = DEFAULT_FORWARDS) -> str:
    """The user-data script. The credentials end up shell-quoted inside it: treat the result
    as a secret (it goes to EC2 only, never to a log or a file outside the task).
    `director_ca_pem=None` (the config skips TLS validation) talks to the director on
    loopback without verifying it."""
    if not director_username or not director_password:
        raise ValueError("the new director username and password are required")
    for what, value in (("username", director_username), ("password", director_password)):
        if not _CREDENTIAL.fullmatch(value):
            # they go into a netrc file and JSON: keep them to characters both take as they are
            raise ValueError(f"the director {what} may only hold letters, digits and . _ ~ -")
    if director_ca_pem is not None and "-----BEGIN CERTIFICATE-----" not in director_ca_pem:
        raise ValueError("the director CA must be a PEM certificate (or None to not verify on loopback)")
    user_json = json.dumps({"username": director_username, "password": director_password})
    replacements = {
        "__FORWARD_RULES__": "\n".join(forward_rules(forwards)),
        "__FORWARDING_SCRIPT__": FORWARDING_SCRIPT,
        "__RC_LOCAL_MARK__": RC_LOCAL_MARK,
        "__RC_LOCAL__": RC_LOCAL,
        "__CONTAINER_NETWORK__": CONTAINER_NETWORK,
        "__METADATA_ADDRESS__": METADATA_ADDRESS,
        "__DIRECTOR_ADDRESS__": DIRECTOR_ADDRESS,
        "__WRITE_CA__": (f"printf '%s' {_quote(director_ca_pem.strip() + chr(10))} > \"$ROOT/etc/bosh-lite-director-ca.pem\""
                         if director_ca_pem is not None else ": no CA given: loopback is not verified"),
        "__CURL_VERIFY__": '--cacert "$ROOT/etc/bosh-lite-director-ca.pem"' if director_ca_pem is not None else "--insecure",
        "__USERNAME__": _quote(director_username),
        "__PASSWORD__": _quote(director_password),
        "__USER_JSON__": _quote(user_json),
    }
    script = _TEMPLATE
    for marker, value in replacements.items():
        script = script.replace(marker, value)
    return script
