"""`python -m promotion finalize`: cut a final release from the dev release that passed dev1 or
dev2, with the real bosh CLI, upload it, and record in the ledger what it was cut from.

Which dev release passed comes from the ledger, confirmed like every gate confirms it: a
passing dev run (deploy and checks) whose deploy record names the dev release, whose
director task the dev director still reports (promotion/tasks.py `verify`), and whose
release the dev director still holds with the recorded fingerprints and commit
(`confirm_release`). The release checkout must be at that commit with nothing changed
(`--checkout` checks it out), because `bosh create-release --final` builds from the work
tree. After the cut, the final's fingerprints (from its release.MF) must equal the dev
release's: anything else would not be what dev tested, so it is not uploaded.

The bosh CLI v2 or later (`create-release --final --tarball`; the Ruby CLI v1 spells it
differently): `--bosh-cli PATH`, else `$PROMOTION_BOSH_CLI`, else `bosh` on the PATH.
create-release does not talk to a director, so no TLS settings are needed for it; uploads go
through helpers.bosh with the config's directors.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.net import REDACTOR
from promotion import gates
from promotion import policy as pol
from promotion.candidate import ENVIRONMENTS, git_output, is_final
from promotion.ledger import NO_CANDIDATE, Record
from promotion.refusal import GateRefused, Refusal
from promotion.releases import NO_COMMIT, ReleaseContents, from_director, from_tarball

BOSH_CLI_ENV = "PROMOTION_BOSH_CLI"
RULE = gates.TESTED_DEV
_GO_CLI = re.compile(r"^version (\d+)\.", re.M)  # `bosh --version` of the Go CLI: "version 7.1.2-..."
CREATE_TIMEOUT = 3600.0
GIT_TIMEOUT = 120.0  # a checkout of a release repository with its blobs' history


class FinalizeFailed(Exception):
    """The bosh CLI or git failed while cutting (nothing was uploaded or recorded)."""


@dataclass(frozen=True)
class Request:
    release_dir: Path
    dev_release: str  # NAME (the newest tested dev release of NAME) or NAME/VERSION
    version: str | None = None  # the final version; bosh's next one when None
    checkout: bool = False
    tarball: Path | None = None
    upload_to: tuple[str, ...] = ENVIRONMENTS

    @property
    def name(self) -> str:
        return self.dev_release.split("/", 1)[0]

    @property
    def dev_version(self) -> str | None:
        return self.dev_release.split("/", 1)[1] if "/" in self.dev_release else None


def bosh_cli(given: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bosh CLI to run: given, else $PROMOTION_BOSH_CLI, else `bosh` on the PATH."""
    environ = os.environ if environ is None else environ
    choice = given or environ.get(BOSH_CLI_ENV) or "bosh"
    return shutil.which(choice, path=environ.get("PATH")) if os.sep not in choice else choice


def input_problems(req: Request, cli: str | None) -> list[str]:
    """Everything wrong with the request as given (bad input: exit 2, nothing done)."""
    out = []
    d = req.release_dir
    if not d.is_dir():
        out.append(f"--release-dir {d} is not a directory")
    else:
        if not (d / "config" / "final.yml").is_file():
            out.append(f"--release-dir {d} is not a BOSH release directory with a final release configuration "
                       "(config/final.yml with its blobstore)")
        if _git(d, "rev-parse", "--git-dir") is None:
            out.append(f"--release-dir {d} is not a git checkout: a final release is cut from a commit")
    name, version = req.name, req.dev_version
    if not name or (version is not None and not version):
        out.append(f"--dev-release {req.dev_release!r}: expected NAME/VERSION (e.g. redis/9+dev.3) or NAME (the "
                   "newest dev release of NAME that passed dev1 or dev2)")
    elif version is not None and is_final(version):
        out.append(f"--dev-release {req.dev_release}: {version} is a final version; name the dev release (e.g. "
                   f"{name}/{version}+dev.1) that passed dev1 or dev2")
    if req.version is not None and not is_final(req.version):
        out.append(f"--version {req.version!r} is not a final version (e.g. 10 or 9.2)")
    if req.tarball is not None and not req.tarball.parent.is_dir():
        out.append(f"--tarball {req.tarball}: directory {req.tarball.parent} does not exist")
    out += _cli_problems(cli)
    return out


def _cli_problems(cli: str | None) -> list[str]:
    if cli is None:
        return [f"no bosh CLI found: put it on the PATH, or pass --bosh-cli PATH or set ${BOSH_CLI_ENV}"]
    if not (os.path.isfile(cli) and os.access(cli, os.X_OK)):
        return [f"bosh CLI {cli} is not an executable file"]
    try:
        proc = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"bosh CLI {cli} does not run: {exc}"]
    m = _GO_CLI.search(proc.stdout)
    if proc.returncode != 0 or not m or int(m.group(1)) < 2:
        said = (proc.stdout + proc.stderr).strip().splitlines()
        return [f"bosh CLI {cli} says {said[0] if said else 'nothing'!r} to --version: finalize needs the bosh CLI "
                "v2 or later (`create-release --final --tarball`)"]
    return []


def _git(path: Path, *args: str) -> str | None:
    return git_output(path, *args, timeout=GIT_TIMEOUT)


class Finalizer:
    """Cuts, uploads and records. `promoter` (promotion.deploy.Promoter) gives the ledger and
    the director of each environment."""

    def __init__(self, promoter: Any, cli: str, out: Callable[[str], None] = print,
                 environ: Mapping[str, str] | None = None) -> None:
        self.promoter = promoter
        self.cli = cli
        self.out = out
        self.environ = dict(os.environ if environ is None else environ)

    def _say(self, message: str) -> None:
        self.out(REDACTOR.redact(message))

    # ------------------------------------------------------------------ which dev release passed

    def tested_source(self, req: Request, records: list[Record]) -> tuple[Record, ReleaseContents]:
        """The dev release to cut from: the newest one of that name (and version, if given)
        that passed dev1 or dev2 and that the dev director confirms."""
        policy = pol.current(records)
        verify, confirm = self.promoter.verifier(records, policy), self.promoter.release_confirmer()
        match, problems = gates.first_confirmed(
            gates.tested_dev_releases(records),
            lambda t: t.name == req.name and req.dev_version in (None, t.version), verify, confirm)
        if match is not None:
            return match
        if problems:
            raise GateRefused(problems)
        what = f"dev release {req.dev_release}" if req.dev_version else f"no dev release of {req.name}"
        why = (f"{what} has no passing run (deploy and checks) in dev1 or dev2 in the ledger" if req.dev_version
               else f"{what} has a passing run (deploy and checks) in dev1 or dev2 in the ledger")
        raise GateRefused([Refusal(RULE, f"{why}, so there is nothing tested to cut a final release from",
                                   "deploy a candidate that uses the dev release to dev1 or dev2 (`python -m "
                                   "promotion build --release NAME=VERSION ...`, then `python -m promotion deploy "
                                   "DIGEST --env dev1`) and let its checks pass (runs recorded by a version of "
                                   "this tool that did not record release contents do not count)")])

    # ------------------------------------------------------------------ the checkout

    def _at_commit(self, req: Request, source: ReleaseContents, record: Record) -> str:
        """Make sure the checkout is the dev release's commit with nothing changed; returns
        the full commit id."""
        d = req.release_dir
        tested = f"dev release {source.label} (passed {record.env}, ledger #{record.seq})"
        if source.uncommitted_changes or source.commit_hash in NO_COMMIT:
            why = ("was created from a checkout with uncommitted changes" if source.uncommitted_changes
                   else f"names no commit ({source.commit_hash or 'none'})")
            raise GateRefused([Refusal(RULE, f"{tested} {why}, so no commit holds what dev tested",
                                       "commit the changes, create a dev release from the commit, deploy a candidate "
                                       "that uses it to dev1 or dev2 and let its checks pass, then finalize that one")])
        full = _git(d, "rev-parse", "--verify", "--quiet", f"{source.commit_hash}^{{commit}}")
        if not full:
            raise GateRefused([Refusal(RULE, f"{tested} was created at commit {source.commit_hash}, which the "
                                       f"checkout {d} does not have",
                                       f"fetch it (`git -C {d} fetch`), or pass the release repository's checkout "
                                       "the dev release was created from")])
        dirty = _git(d, "status", "--short")
        if dirty:
            lines = dirty.splitlines()
            shown = "; ".join(lines[:10]) + (f" (and {len(lines) - 10} more)" if len(lines) > 10 else "")
            raise GateRefused([Refusal(RULE, f"the checkout {d} has local modifications ({shown}): a final release "
                                       f"cut from it would not be {tested}",
                                       f"commit or remove them (`git -C {d} status`); dev artifacts belong in "
                                       ".gitignore (.dev_builds, dev_releases)")])
        head = _git(d, "rev-parse", "HEAD")
        if head != full:
            if not req.checkout:
                raise GateRefused([Refusal(RULE, f"the checkout {d} is at {(head or '?')[:12]}, but {tested} was "
                                           f"created at {source.commit_hash}",
                                           f"`git -C {d} checkout {source.commit_hash}`, or pass --checkout")])
            if _git(d, "checkout", "--quiet", "--detach", full) is None:
                raise FinalizeFailed(f"git could not check out {full} in {d}")
            self._say(f"checked out {full[:12]} in {d} (the commit of {tested})")
        return full

    # ------------------------------------------------------------------ cut, upload, record

    def _create(self, req: Request, tarball: Path) -> ReleaseContents:
        argv = [self.cli, "create-release", "--final", "--dir", str(req.release_dir), "--name", req.name,
                "--tarball", str(tarball)]
        if req.version:
            argv += ["--version", req.version]
        self._say(f"running {' '.join(argv)}")
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=CREATE_TIMEOUT,
                                  env={**self.environ, "BOSH_NON_INTERACTIVE": "true"})
        except (OSError, subprocess.SubprocessError) as exc:
            raise FinalizeFailed(f"bosh create-release --final in {req.release_dir} did not run: {exc}") from None
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise FinalizeFailed(REDACTOR.redact(f"bosh create-release --final in {req.release_dir} failed "
                                                 f"(exit {proc.returncode}):\n{tail}"))
        return from_tarball(tarball)

    def _directors(self, envs: tuple[str, ...]) -> dict[str, tuple[Any, list[str]]]:
        """Director uuid -> (director, the environments it serves among `envs`)."""
        out: dict[str, tuple[Any, list[str]]] = {}
        for env in envs:
            director = self.promoter.director_for(env)
            out.setdefault(str(director.uuid()), (director, []))[1].append(env)
        return out

    def _upload(self, final: ReleaseContents, tarball: Path, envs: tuple[str, ...]) -> list[dict[str, Any]]:
        """Upload to every distinct director of `envs`, after checking that none holds another
        release under the final's name and version (all before any upload)."""
        directors = self._directors(envs)
        present: dict[str, bool] = {}
        for uuid_, (director, served) in directors.items():
            try:
                there = from_director(director, final.name, final.version)
            except Exception as exc:
                if getattr(exc, "status", None) != 404:
                    raise
                present[uuid_] = False
                continue
            if not there.same_contents(final):
                raise GateRefused([Refusal(RULE, f"director {uuid_} ({', '.join(served)}) already holds another "
                                           f"release {final.label}: {'; '.join(final.differences(there, 'cut', 'director has'))}",
                                           f"cut the final with another version (--version), or delete {final.label} "
                                           "from that director if it was never deployed")])
            present[uuid_] = True
        uploads = []
        for uuid_, (director, served) in directors.items():
            entry: dict[str, Any] = {"director_uuid": uuid_, "envs": served, "task": None,
                                     "already_there": present[uuid_]}
            if not present[uuid_]:
                result = director.upload_release(tarball)
                entry["task"] = getattr(result, "id", None)
                there = from_director(director, final.name, final.version)
                if not there.same_contents(final):
                    raise FinalizeFailed(f"director {uuid_} holds {final.label} with other fingerprints after the "
                                         f"upload (task {entry['task']}): "
                                         f"{'; '.join(final.differences(there, 'cut', 'director has'))}")
            self._say(f"{final.label} {'was already on' if present[uuid_] else 'uploaded to'} director {uuid_} "
                      f"({', '.join(served)})" + (f", task {entry['task']}" if entry["task"] is not None else ""))
            uploads.append(entry)
        return uploads

    def finalize(self, req: Request) -> Record:
        """Cut, compare, upload, record; returns the `finalize` record. Raises GateRefused
        (nothing tested to cut from, the checkout, fingerprints that differ), FinalizeFailed."""
        records = self.promoter.ledger.records()
        record, source = self.tested_source(req, records)
        commit = self._at_commit(req, source, record)
        with tempfile.TemporaryDirectory(prefix="finalize-") as scratch:
            tarball = req.tarball or Path(scratch) / f"{req.name}-final.tgz"
            final = self._create(req, tarball)
            if final.name != source.name or not final.same_contents(source):
                diffs = final.differences(source, "final", "tested dev")
                raise GateRefused([Refusal(
                    RULE, f"the final release {final.label} cut at {commit[:12]} is not dev release {source.label} "
                    f"(passed {record.env}, ledger #{record.seq}): "
                    f"{'; '.join(diffs) if diffs else f'its name is {final.name}'}; nothing was uploaded",
                    f"discard what bosh wrote into {req.release_dir} (`git -C {req.release_dir} checkout -- . && git "
                    f"-C {req.release_dir} clean -fd releases .final_builds`) and find out why the sources differ")])
            self._say(f"cut final release {final.label} from dev release {source.label} (passed {record.env}, "
                      f"ledger #{record.seq}, commit {source.commit_hash}): same jobs and packages")
            uploads = self._upload(final, tarball, req.upload_to)
        cut_from = {**source.to_doc(), "env": record.env, "run_id": record.run_id, "deploy_record": record.seq,
                    "candidate": record.candidate}
        where = "; ".join(f"director {u['director_uuid']} ({', '.join(u['envs'])})" for u in uploads)
        done = self.promoter.ledger.append(Record(
            NO_CANDIDATE, "", "finalize", "passed", uuid.uuid4().hex,
            detail=f"final release {final.label} cut from dev release {source.label} (passed {record.env}, ledger "
                   f"#{record.seq}, commit {source.commit_hash}) and uploaded to {where}",
            extra={"release": final.to_doc(), "cut_from": cut_from, "commit": commit, "uploads": uploads}))
        self._say(f"ledger #{done.seq}: {done.detail}")
        self._say(f"commit the final release to the release repository: `git -C {req.release_dir} add releases "
                  f".final_builds && git -C {req.release_dir} commit -m 'Final release {final.version}'`")
        return done
