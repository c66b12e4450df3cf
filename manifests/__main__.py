"""`python -m manifests generate ...`: write the five piecewise manifests.

Two modes: built-in templates (`--versions v0|v_prime|FILE`), or release checkouts
(`--cf-release DIR --diego-release DIR`), which runs the checkouts' own templates. Every
problem is printed on its own line and the exit status is 1; nothing is written then.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid as uuid_mod
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m manifests", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write cf.yml, database.yml, brain-and-pals.yml, cell1.yml, cell2.yml")
    gen.add_argument("--versions", help="version set name (v0, v_prime) or YAML file of release -> version")
    gen.add_argument("--target", default="bosh-lite", help="target name (bosh-lite) or target YAML file")
    gen.add_argument("--out", required=True, type=Path, help="output directory (replaced as a whole)")
    gen.add_argument("--stub", action="append", default=[], type=Path, metavar="FILE",
                     help="spiff stub applied to every manifest (repeatable; later stubs win)")
    gen.add_argument("--piece-stub", action="append", default=[], metavar="PIECE=FILE",
                     help="spiff stub for one piece: cf, database, brain-and-pals, cell1, cell2")
    gen.add_argument("--prefix", default="cf-warden", help="deployment name prefix (default cf-warden)")
    gen.add_argument("--secrets", type=Path, metavar="FILE",
                     help="secrets YAML (created if missing, reused otherwise; share it between V0 and V-prime)")
    gen.add_argument("--cf-admin-user", help="CF admin user (default: from the secrets file, 'admin')")
    gen.add_argument("--cf-admin-password", help="CF admin password (or env CF_ADMIN_PASSWORD)")
    director = gen.add_argument_group("director (one of --director-uuid / --director-url)")
    director.add_argument("--director-uuid")
    director.add_argument("--director-url", help="read the UUID from this director's /info")
    director.add_argument("--director-user", help="or env BOSH_CLIENT")
    director.add_argument("--director-password", help="or env BOSH_CLIENT_SECRET")
    director.add_argument("--ca-cert", help="CA certificate file (or PEM text) for the director")
    director.add_argument("--skip-ssl-validation", action="store_true")
    director.add_argument("--tls-allow-sha1", action="store_true",
                          help="accept SHA-1 signatures in a chain that ends at --ca-cert (a 2015 BOSH-Lite director)")
    director.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT=ADDR:PORT",
                          help="connect to ADDR:PORT for HOST:PORT (repeatable; like curl --resolve)")
    checkout = gen.add_argument_group("release-checkout mode")
    checkout.add_argument("--cf-release", type=Path, metavar="DIR")
    checkout.add_argument("--diego-release", type=Path, metavar="DIR")
    checkout.add_argument("--etcd-release", type=Path, metavar="DIR")
    checkout.add_argument("--garden-release", type=Path, metavar="DIR")
    return parser


def _split_pairs(values: Sequence[str], what: str, problems: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            problems.append(f"{what} {value!r}: expected KEY=VALUE")
        else:
            out.append((key, rest))
    return out


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from manifests.director import DirectorLookupError, director_uuid
    from manifests.generate import GenerationError, check_out_dir, generate

    problems: list[str] = []
    resolve = dict(_split_pairs(args.resolve, "--resolve", problems))
    piece_stubs: dict[str, list[Path]] = {}
    for piece, path in _split_pairs(args.piece_stub, "--piece-stub", problems):
        piece_stubs.setdefault(piece, []).append(Path(path))
    checkout_mode = bool(args.cf_release or args.diego_release)
    if checkout_mode and not (args.cf_release and args.diego_release):
        problems.append("release-checkout mode needs both --cf-release and --diego-release")
    if not checkout_mode and not args.versions:
        problems.append("give --versions (v0, v_prime or a YAML file), or --cf-release and --diego-release")
    if checkout_mode and args.secrets:
        problems.append("--secrets applies to the built-in templates only; release checkouts keep their own credentials")
    if args.director_uuid and args.director_url:
        problems.append("give either --director-uuid or --director-url, not both")
    problems.extend(check_out_dir(args.out))
    if args.director_uuid and not is_director_uuid(args.director_uuid):
        problems.append(f"--director-uuid {args.director_uuid!r} is not a director uuid (like "
                        "2bc7d0b1-3e1c-4f0e-9a0c-6d2a4f1c9e8b: `bosh status --uuid` or `bosh env` prints it), "
                        "or give --director-url to read it from the director")
    uuid = args.director_uuid
    if not problems and args.director_url:
        try:
            uuid = director_uuid(args.director_url, username=args.director_user, password=args.director_password,
                                 ca_cert=args.ca_cert, skip_ssl_validation=args.skip_ssl_validation,
                                 tls_allow_sha1=args.tls_allow_sha1, resolve=resolve)
        except DirectorLookupError as exc:
            problems.append(str(exc))
    if problems:
        return _fail(problems)
    admin_password = args.cf_admin_password or os.environ.get("CF_ADMIN_PASSWORD")
    try:
        if checkout_mode:
            from manifests.release_checkout import generate_from_checkouts

            written = generate_from_checkouts(
                cf_release=args.cf_release, diego_release=args.diego_release, etcd_release=args.etcd_release,
                garden_release=args.garden_release, versions=args.versions, target=args.target,
                director_uuid=uuid, out=args.out, stubs=args.stub, prefix=args.prefix, piece_stubs=piece_stubs,
                cf_admin_user=args.cf_admin_user, cf_admin_password=admin_password,
            )
        else:
            written = generate(
                args.versions, target=args.target, director_uuid=uuid, out=args.out, stubs=args.stub,
                prefix=args.prefix, secrets_file=args.secrets, cf_admin_user=args.cf_admin_user,
                cf_admin_password=admin_password, piece_stubs=piece_stubs,
            )
    except GenerationError as exc:
        return _fail(exc.problems)
    for piece, path in written.items():
        print(f"{piece}: {path}")
    return 0


def is_director_uuid(value: str) -> bool:
    """What a director's `/info` gives as its uuid (a UUID, 8-4-4-4-12 hex). The 2015 bosh CLI
    refuses to deploy a manifest whose `director_uuid` differs from its target's
    (bosh_cli 1.3262.26.0 lib/cli/manifest.rb:56), and the director itself does not check
    it, so a placeholder (`UUID`) would only fail later, at the deploy."""
    try:
        return str(uuid_mod.UUID(value)) == value.lower()
    except ValueError:
        return False


def _fail(problems: Sequence[str]) -> int:
    print("manifest generation failed:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(run())
