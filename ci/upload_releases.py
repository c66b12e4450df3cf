"""Upload releases and a stemcell through the director API, skipping what is there.

    python -m ci.upload_releases --config CONFIG [--stemcell S.tgz] RELEASE.tgz|URL...

A tarball is identified by its own release.MF / stemcell.MF, so re-running the task (or
running it against a director that already has V0) uploads nothing twice. URLs are passed
to the director (`{"location": url}`); their version is not known before the upload, so a
URL is skipped only when it carries bosh.io's `?v=VERSION` for a release already present.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from helpers.releases import TarballError, read_release, read_stemcell


def _is_url(item: str) -> bool:
    return urlparse(item).scheme in ("http", "https", "file")


def upload_all(director, items: list[str], stemcell: str | None,
               log: Callable[[str], None] = print) -> dict[str, list[str]]:
    present = {(r["name"], v["version"]) for r in director.releases() for v in r.get("release_versions", [])}
    done: dict[str, list[str]] = {"uploaded": [], "skipped": []}
    for item in items:
        if _is_url(item):
            version = (parse_qs(urlparse(item).query).get("v") or [None])[0]
            name = urlparse(item).path.rstrip("/").rsplit("/", 1)[-1]
            if version and any(n == name and v == version for n, v in present):
                log(f"skip {item}: {name}/{version} already uploaded")
                done["skipped"].append(item)
                continue
            director.upload_release(item)
            done["uploaded"].append(item)
            log(f"uploaded {item}")
            continue
        info = read_release(item)
        label = f"{info.name}/{info.version}"
        if (info.name, info.version) in present:
            log(f"skip {label}: already uploaded")
            done["skipped"].append(label)
            continue
        director.upload_release(Path(item))
        present.add((info.name, info.version))
        done["uploaded"].append(label)
        log(f"uploaded {label}")
    if stemcell:
        cell = read_stemcell(stemcell)
        label = f"{cell.name}/{cell.version}"
        if any(s["name"] == cell.name and str(s["version"]) == cell.version for s in director.stemcells()):
            log(f"skip stemcell {label}: already uploaded")
            done["skipped"].append(label)
        else:
            director.upload_stemcell(Path(stemcell))
            done["uploaded"].append(label)
            log(f"uploaded stemcell {label}")
    return done


def main(argv: list[str] | None = None) -> int:
    from helpers.bosh import Director
    from helpers.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="python -m ci.upload_releases", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--stemcell")
    parser.add_argument("releases", nargs="*")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if config is None:
            raise ConfigError(["--config names no file"])
        director = Director(config.bosh, config.resolver(), timeout=config.timeout)
        upload_all(director, args.releases, args.stemcell)
    except (ConfigError, TarballError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:  # director errors already name the task and the director's reason
        print(f"upload failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
