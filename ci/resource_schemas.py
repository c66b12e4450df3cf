"""What each Concourse resource type and step accepts, as its documentation says (read at the
commits named below), for `ci.lint`. Concourse itself checks none of this at `set-pipeline`
time: a misspelled `source` key or put param is passed to the resource and ignored, or fails
hours later in the job.

Sources (READMEs at): concourse/git-resource@03fd6d34, concourse/s3-resource@9774c143,
concourse/registry-image-resource@b25996c6, concourse/bosh-io-release-resource@8dc641f7,
concourse/bosh-io-stemcell-resource@3b594102, concourse/time-resource (HEAD of the mirror),
concourse/github-release-resource@90c54917, cloudfoundry/bosh-deployment-resource@1ac9b4ee;
step and task keys from the Concourse docs (jobs, steps, task config).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceSchema:
    source: frozenset[str]
    required: frozenset[str] = frozenset()
    get_params: frozenset[str] = frozenset()
    put_params: frozenset[str] = frozenset()
    put_required: frozenset[str] = frozenset()
    # files a get writes besides the content (None: the content is arbitrary, e.g. a repo)
    get_files: frozenset[str] | None = field(default=frozenset())


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


SCHEMAS: dict[str, ResourceSchema] = {
    "git": ResourceSchema(
        source=_s("uri", "branch", "private_key", "private_key_user", "private_key_passphrase", "forward_agent",
                  "username", "password", "paths", "sparse_paths", "ignore_paths", "skip_ssl_verification",
                  "tag_filter", "tag_regex", "tag_behaviour", "fetch_tags", "submodule_credentials", "git_config",
                  "disable_ci_skip", "commit_verification_keys", "commit_verification_key_ids", "gpg_keyserver",
                  "git_crypt_key", "https_tunnel", "commit_filter", "version_depth", "search_remote_refs", "debug"),
        required=_s("uri"),
        get_params=_s("depth", "fetch", "fetch_tags", "submodules", "submodule_recursive", "submodule_remote",
                      "disable_git_lfs", "clean_tags", "short_ref_format", "timestamp_format",
                      "describe_ref_options", "all_branches", "debug"),
        put_params=_s("repository", "rebase", "rebase_strategy", "rebase_strategy_option", "merge", "returning",
                      "tag", "only_tag", "tag_prefix", "force", "annotate", "notes", "branch", "refs_prefix",
                      "push_options", "debug"),
        put_required=_s("repository"),
        get_files=None,
    ),
    "s3": ResourceSchema(
        source=_s("bucket", "access_key_id", "secret_access_key", "session_token", "aws_role_arn",
                  "enable_aws_creds_provider", "region_name", "private", "cloudfront_url", "endpoint", "disable_ssl",
                  "skip_ssl_verification", "ca_bundle", "skip_download", "server_side_encryption", "sse_kms_key_id",
                  "disable_multipart", "use_path_style", "skip_s3_checksums", "checksum_algorithm", "regexp",
                  "versioned_file", "initial_path", "initial_version", "initial_content_text",
                  "initial_content_binary"),
        required=_s("bucket"),
        get_params=_s("skip_download", "unpack", "download_tags"),
        put_params=_s("file", "acl", "content_type"),
        put_required=_s("file"),
        get_files=_s("url", "s3_uri", "version", "tags.json"),  # + the object (see s3_object_name)
    ),
    "registry-image": ResourceSchema(
        source=_s("repository", "insecure", "tag", "tag_regex", "created_at_sort", "variant", "semver_constraint",
                  "pre_releases", "pre_release_prefixes", "username", "password", "aws_access_key_id",
                  "aws_secret_access_key", "aws_session_token", "aws_region", "aws_role_arn", "aws_role_arns",
                  "aws_account_id", "azure_acr", "azure_client_id", "azure_tenant_id", "azure_environment",
                  "platform", "label_regex", "annotation_regex", "debug", "registry_mirror", "content_trust",
                  "ca_certs"),
        required=_s("repository"),
        get_params=_s("format", "platform", "skip_download"),
        put_params=_s("image", "version", "bump_aliases", "additional_tags"),
        get_files=None,
    ),
    "bosh-io-release": ResourceSchema(
        source=_s("repository", "regexp"), required=_s("repository"), get_params=_s("tarball"),
        get_files=_s("version", "url", "sha1", "sha256", "release.tgz"),
    ),
    "bosh-io-stemcell": ResourceSchema(
        source=_s("name", "version_family", "force_regular", "auth"), required=_s("name"),
        get_params=_s("tarball", "preserve_filename"),
        get_files=_s("version", "url", "sha1", "sha256", "stemcell.tgz"),
    ),
    "time": ResourceSchema(
        source=_s("interval", "location", "start", "stop", "days", "initial_version", "start_after"),
        get_files=_s("input", "timestamp"),
    ),
    "github-release": ResourceSchema(
        source=_s("owner", "repository", "access_token", "github_api_url", "github_uploads_url", "insecure",
                  "release", "pre_release", "drafts", "semver_constraint", "tag_filter", "order_by", "asset_dir"),
        required=_s("owner", "repository"),
        get_params=_s("globs", "include_source_tarball", "include_source_zip"),
        put_params=_s("name", "tag", "tag_prefix", "commitish", "body", "globs", "generate_release_notes"),
        put_required=_s("name", "tag"),
        get_files=_s("tag", "version", "body", "timestamp", "commit_sha", "url"),  # + the globbed assets
    ),
    # cloudfoundry/bosh-deployment-resource (registry-image repository cloudfoundry/bosh-deployment-resource)
    "bosh-deployment": ResourceSchema(
        source=_s("deployment", "target", "client", "client_secret", "ca_cert", "jumpbox_url", "jumpbox_ssh_key",
                  "jumpbox_username", "skip_check", "vars_store", "source_file"),
        required=_s("deployment", "client", "client_secret"),
        get_params=_s("compiled_releases"),
        put_params=_s("manifest", "stemcells", "bosh_io_stemcell_type", "releases", "vars", "vars_files",
                      "var_files", "ops_files", "cleanup", "no_redact", "dry_run", "fix", "max_in_flight",
                      "recreate", "skip_drain", "source_file", "delete"),
        put_required=_s("manifest"),
        get_files=_s("manifest.yml", "target"),
    ),
}
# custom resource types are known by the image they run
CUSTOM_TYPES_BY_REPOSITORY = {"cloudfoundry/bosh-deployment-resource": "bosh-deployment"}

HOOKS = _s("on_success", "on_failure", "on_error", "on_abort", "ensure")
MODIFIERS = HOOKS | _s("timeout", "attempts", "tags", "across")
STEP_KEYS: dict[str, frozenset[str]] = {
    "get": MODIFIERS | _s("get", "resource", "passed", "params", "trigger", "version"),
    "put": MODIFIERS | _s("put", "resource", "params", "get_params", "inputs", "no_get"),
    "task": MODIFIERS | _s("task", "file", "config", "privileged", "params", "vars", "image", "input_mapping",
                           "output_mapping", "container_limits", "hermetic"),
    "in_parallel": MODIFIERS | _s("in_parallel"),
    "do": MODIFIERS | _s("do"),
    "try": MODIFIERS | _s("try"),
    "set_pipeline": MODIFIERS | _s("set_pipeline", "file", "vars", "var_files", "team", "instance_vars"),
    "load_var": MODIFIERS | _s("load_var", "file", "format", "reveal"),
}
JOB_KEYS = HOOKS | _s("name", "plan", "serial", "serial_groups", "max_in_flight", "build_log_retention",
                      "build_logs_to_retain", "public", "disable_manual_trigger", "interruptible", "old_name")
PIPELINE_KEYS = _s("resources", "resource_types", "jobs", "groups", "var_sources", "display")
RESOURCE_KEYS = _s("name", "type", "source", "version", "check_every", "check_timeout", "tags", "public",
                   "webhook_token", "icon", "old_name", "expose_build_created_by")
RESOURCE_TYPE_KEYS = _s("name", "type", "source", "privileged", "params", "check_every", "tags", "defaults")
TASK_KEYS = _s("platform", "image_resource", "rootfs_uri", "inputs", "outputs", "caches", "params", "run",
               "container_limits")
TASK_INPUT_KEYS = _s("name", "path", "optional")

# What the images our tasks use are documented to contain (docker-library/python 3.11/bookworm
# and docker-library/golang@fddc8c1 1.6: both on buildpack-deps *-scm, which has git and curl).
IMAGE_TOOLS = {"python": _s("python", "pip", "git", "curl", "bash"), "golang": _s("go", "git", "curl", "bash")}
# environment variables read by libraries rather than by our code (boto3's credential chain)
LIBRARY_ENV = _s("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")
