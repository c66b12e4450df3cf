"""Where candidates, the ledger and the promotion locks live: a local directory or S3.

Both backends offer the same four operations, chosen so that the ledger and the lock
need no read-modify-write: `put` / `get` whole objects, `create` an object only if it
does not exist yet (the lock), and `list` keys under a prefix. The ledger appends one
object per record (see ledger.py), so two writers can never lose each other's lines.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class StoreError(Exception):
    """A store operation failed; the message names the store and the key."""


class Store(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def create(self, key: str, data: bytes) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"invalid store key {key!r}")
    return key


class LocalStore:
    """A directory: keys are relative paths. Writes go through a temp file + rename so a
    crash never leaves a half-written candidate under its final name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{key} not found in store {self.url}")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def create(self, key: str, data: bytes) -> bool:
        """Exclusive and atomic: the content is written to a temp file first and hard-linked
        into place (link fails if the name exists), so no reader ever sees a created object
        half-written, and two creators never both win."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        keys = [
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        ]
        return sorted(keys)


@dataclass(frozen=True)
class S3Settings:
    """What the S3 store needs. Not `helpers.config.S3Config` itself: this one keeps the
    secret key out of its repr, so a settings object in a log or a traceback shows no
    credential."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


def _code(exc: Exception) -> str | None:
    """The S3 error code of a botocore ClientError (None for other exceptions)."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


class S3Store:
    """`s3://bucket/prefix` through boto3. `create` is a conditional PUT
    (`If-None-Match: *`), which S3 (and moto) answer with 412 when the key exists."""

    def __init__(self, url: str, settings: S3Settings | None = None) -> None:
        import boto3  # imported here: local stores need no AWS SDK start-up time

        if not url.startswith("s3://"):
            raise StoreError(f"not an S3 URL: {url}")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise StoreError(f"S3 URL without a bucket: {url}")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        s = settings or S3Settings()
        self._client = boto3.client(
            "s3",
            endpoint_url=s.endpoint_url,
            region_name=s.region,
            aws_access_key_id=s.access_key_id,
            aws_secret_access_key=s.secret_access_key,
        )

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, op: str, key: str, exc: Exception) -> StoreError:
        return StoreError(f"S3 {op} of {key} in {self.url} failed: {_code(exc) or type(exc).__name__}")

    def put(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:
            raise self._error("put", key, exc)

    def get(self, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise StoreError(f"{key} not found in store {self.url}")
            raise self._error("get", key, exc)

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error("head", key, exc)

    def create(self, key: str, data: bytes) -> bool:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*")
            return True
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise self._error("conditional put", key, exc)

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._error("delete", key, exc)

    def list(self, prefix: str) -> list[str]:
        strip = f"{self.prefix}/" if self.prefix else ""
        full = strip + prefix
        keys: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                keys.extend(o["Key"][len(strip) :] for o in page.get("Contents", []))
        except Exception as exc:
            raise self._error("list", prefix or "/", exc)
        return sorted(keys)


def s3_settings(s3_config: object | None, endpoint_url: str | None = None,
                environ: dict[str, str] | None = None, region: str | None = None) -> S3Settings:
    """S3Settings from the config's `promotion.s3` section (any object with its fields), the
    overrides `--s3-endpoint` / `--s3-region`, and the environment: `AWS_ACCESS_KEY_ID` /
    `AWS_SECRET_ACCESS_KEY` win over the config so that CI can keep credentials out of config
    files; `AWS_REGION` / `AWS_DEFAULT_REGION` apply when neither flag nor config names a
    region (else us-east-1)."""
    env = os.environ if environ is None else environ
    return S3Settings(
        endpoint_url=endpoint_url or getattr(s3_config, "endpoint_url", None),
        region=(region or getattr(s3_config, "region", None) or env.get("AWS_REGION")
                or env.get("AWS_DEFAULT_REGION") or "us-east-1"),
        access_key_id=env.get("AWS_ACCESS_KEY_ID") or getattr(s3_config, "access_key_id", None),
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or getattr(s3_config, "secret_access_key", None),
    )


def open_store(url: str, s3: S3Settings | None = None) -> Store:
    """`s3://bucket/prefix` -> S3Store; anything else is a local directory."""
    if url.startswith("s3://"):
        return S3Store(url, s3)
    return LocalStore(url)
