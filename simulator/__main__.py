"""Command line: `python -m simulator serve --config-out FILE [--state-dir DIR]
[--profile fast|realistic] [--preload v0,v_prime] [--parent-pid PID] [--director-era 2015|current]
[--director-auth basic|uaa] [--vm-network-native]`."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from simulator.director.era import DEFAULT_ERA, ERAS
from simulator.world import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="The embedded BOSH-Lite simulator (CF + Diego + Redis).")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve until SIGTERM/SIGINT; write the suite config when ready")
    s.add_argument("--config-out", required=True, type=Path, help="where to write the suite config (YAML)")
    s.add_argument("--state-dir", type=Path, default=None, help="working directory (default: a new temp dir)")
    s.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    s.add_argument("--preload", default="v0,v_prime",
                   help="comma-separated version sets whose releases and stemcell are uploaded at start "
                        "('' for none)")
    s.add_argument("--director-era", choices=list(ERAS), default=DEFAULT_ERA,
                   help="the director to be: 2015 (bosh 1.3098.0, the BOSH-Lite of V0's time) or current "
                        "(bosh v283.1.6)")
    s.add_argument("--director-auth", choices=["basic", "uaa"], default=None,
                   help="what /info advertises: basic, or uaa (tokens from the director's /oauth/token); "
                        "default: the era's (2015 basic, current uaa)")
    s.add_argument("--vm-network-native", action="store_true",
                   help="use the VM addresses (10.244.0.0/16) themselves instead of a loopback /16: only "
                        "inside a network namespace that owns that network (the VMs' sshds listen on :22)")
    s.add_argument("--parent-pid", type=int, default=None, help="exit when this process dies (watchdog)")
    args = parser.parse_args(argv)

    from simulator.assembly import NativeNetworkMissing, serve

    preload = [p.strip() for p in args.preload.split(",") if p.strip()]
    try:
        code = serve(args.config_out.resolve(), args.state_dir, args.profile, preload, args.parent_pid,
                     args.director_auth, args.director_era, args.vm_network_native)
    except NativeNetworkMissing as exc:
        print(f"simulator: {exc}", file=sys.stderr, flush=True)
        code = 2
    except BaseException:
        traceback.print_exc()
        code = 1
    # Everything was closed by serve(); do not wait for worker threads that may still sit in a
    # component's hook (ThreadPoolExecutor joins them at interpreter exit).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
