"""The BOSH-Lite user-data script, run for real: the real iptables in a network namespace the
test makes (tests/ci/userdata_host.py), connections from a second namespace through the DNAT
rules, a replayed reboot, and the director-credential rotation against a fake of the 2015
director's user API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci.bosh_lite_user_data import render

HERE = Path(__file__).resolve().parent
PORTS = ("80", "443", "2222", "4443")
USERNAME, PASSWORD = "ci-5f3a", "s3cret-Pa55word_x"


def _missing() -> list[str]:
    tools = [t for t in ("unshare", "ip", "iptables", "iptables-save", "curl", "mount") if shutil.which(t) is None]
    if os.geteuid() != 0:
        tools.append("root")
    return tools


@pytest.fixture(scope="module")
def boot(tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = _missing()
    assert not missing, f"the user-data test needs {missing} (.ci/run installs iptables)"
    work = tmp_path_factory.mktemp("userdata")
    root = work / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "rc.local").write_text("#!/bin/sh -e\n# stock Ubuntu rc.local\nexit 0\n")
    (root / "var/lib/cloud/instance/scripts").mkdir(parents=True)
    script = work / "user-data.sh"
    script.write_text(render(director_username=USERNAME, director_password=PASSWORD,
                             director_ca_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"))
    (root / "var/lib/cloud/instance/user-data.txt").write_text(script.read_text())
    (root / "var/lib/cloud/instance/scripts/part-001").write_text(script.read_text())
    r = subprocess.run(["unshare", "--net", "--mount", "--fork", sys.executable, str(HERE / "userdata_host.py"),
                        str(script), str(root), str(HERE / "fake_director_users.py")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"namespace driver failed:\n{r.stdout}\n{r.stderr}"
    report = json.loads(r.stdout.strip().splitlines()[-1])
    report["root"] = str(root)
    return report


def _dnat_rules(rules: list[str]) -> list[str]:
    return [r for r in rules if "DNAT" in r]


def test_first_boot_forwards_the_cf_ports_to_haproxy(boot: dict) -> None:
    assert boot["first_boot"]["rc"] == 0, boot["first_boot"]
    assert boot["reached_after_first_boot"] == {p: f"10.244.0.34:{p}" for p in PORTS}
    dnat = _dnat_rules(boot["rules_after_first_boot"])
    for port in PORTS:
        assert any(f"--dport {port} " in r and "-i eth0" in r and f"--to-destination 10.244.0.34:{port}" in r
                   and "--dst-type LOCAL" in r for r in dnat), (port, dnat)
    assert len(dnat) == len(PORTS)


def test_containers_cannot_reach_the_instance_metadata(boot: dict) -> None:
    assert "-A FORWARD -s 10.244.0.0/16 -d 169.254.169.254/32 -j DROP" in boot["rules_after_first_boot"]


def test_running_again_adds_no_duplicate_rule(boot: dict) -> None:
    assert boot["second_run"]["rc"] == 0, boot["second_run"]
    assert boot["rules_after_second_run"] == boot["rules_after_first_boot"]


def test_rules_come_back_after_a_reboot(boot: dict) -> None:
    assert _dnat_rules(boot["rules_after_flush"]) == []  # the replayed reboot really cleared them
    assert all(v.startswith("error") for v in boot["reached_after_flush"].values()), boot["reached_after_flush"]
    assert boot["reboot"]["rc"] == 0, boot["reboot"]
    assert boot["rules_after_reboot"] == boot["rules_after_first_boot"]
    assert boot["reached_after_reboot"] == {p: f"10.244.0.34:{p}" for p in PORTS}
    rc_local = (Path(boot["root"]) / "etc/rc.local").read_text().splitlines()
    hook = rc_local.index("/usr/local/sbin/bosh-lite-port-forwarding || true")
    assert hook < rc_local.index("exit 0")  # before Ubuntu's final `exit 0`, and only once
    assert rc_local.count("/usr/local/sbin/bosh-lite-port-forwarding || true") == 1


def test_director_credentials_are_replaced_and_admin_admin_refused(boot: dict) -> None:
    out = boot["first_boot"]["stdout"] + boot["first_boot"]["stderr"]
    assert "director credentials replaced; admin/admin is refused" in out
    assert "POST /users -> 204" in boot["director_log"]
    assert "director credentials were already replaced" in boot["second_run"]["stdout"]  # no second user


def test_no_credential_is_printed_or_left_in_cloud_init_copies(boot: dict) -> None:
    for run in ("first_boot", "second_run"):
        text = boot[run]["stdout"] + boot[run]["stderr"]
        assert PASSWORD not in text
    root = Path(boot["root"])
    assert not (root / "var/lib/cloud/instance/user-data.txt").exists()
    assert not (root / "var/lib/cloud/instance/scripts/part-001").exists()
    leftovers = [p for p in root.rglob("*") if p.is_file() and PASSWORD in p.read_text(errors="replace")]
    assert leftovers == []


def test_render_refuses_credentials_it_cannot_pass_safely() -> None:
    with pytest.raises(ValueError, match="may only hold"):
        render(director_username="ci", director_password="pa ss", director_ca_pem="x")
    with pytest.raises(ValueError, match="must be a PEM certificate"):
        render(director_username="ci", director_password="pw", director_ca_pem=" ")
    unverified = render(director_username="ci", director_password="pw", director_ca_pem=None)
    assert "--insecure" in unverified and "--cacert" not in unverified


def test_metadata_is_dropped_for_containers_only(boot: dict) -> None:
    assert boot["metadata_from_vm"] == "169.254.169.254:80"  # the path works: only containers are cut off
    assert boot["metadata_from_container"].startswith("error"), boot["metadata_from_container"]
