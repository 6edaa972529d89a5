"""git data storage add|list|remove|default: where data goes when it leaves the machine."""
from __future__ import annotations

import argparse
import re

from gitdata import config, git, output
from gitdata.errors import GitDataError, UsageError
from gitdata.project import Project, open_project
from gitdata.storage import KINDS, kind_of_url, storage_config
from gitdata.storage.generic import TEMPLATES
from gitdata.transfer import default_storage_name, storage_names

CONFIG_PATH = ".gitdata/config"
DEFAULT_KEY = "core.defaultStorage"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    add = sub.add_parser("add", help="define a storage", add_help=False)
    add.add_argument("-h", action="help", help="show this help and exit")
    add.add_argument("name", metavar="NAME")
    add.add_argument("url", metavar="URL", help="/path, file://, s3://bucket/prefix, ssh://user@host:port/dir, "
                                                 "user@host:dir, or anything the generic commands understand")
    add.add_argument("--default", action="store_true", help="make it the default storage")
    add.add_argument("--type", choices=KINDS, help="the kind, when the URL does not tell")
    add.add_argument("--endpoint-url", metavar="URL", help="S3: the service endpoint (S3-compatible services)")
    add.add_argument("--region", help="S3: the region")
    add.add_argument("--profile", help="S3: the AWS profile for credentials")
    add.add_argument("--preset", choices=("aws", "minio", "r2", "gcs", "wasabi", "digitalocean"),
                     help="S3: fill endpoint and region for an S3-compatible service")
    add.add_argument("--account-id", metavar="ID", help="S3 r2 preset: the Cloudflare account id")
    for name in TEMPLATES:
        add.add_argument(f"--{name}", dest=f"cmd_{name}", metavar="COMMAND",
                         help=f"generic: the {name} command template")
    add.add_argument("--processes", type=int, metavar="N", help="generic: commands run in parallel")
    add.add_argument("--timeout", metavar="SECONDS",
                     help="generic: stop a command after this long (default 3600, 0 for no limit)")
    add.add_argument("--local", action="store_true",
                     help="define it in .git/config for this clone only, instead of the committed .gitdata/config")
    listing = sub.add_parser("list", help="show the storages", add_help=False, aliases=["ls"])
    listing.add_argument("-h", action="help", help="show this help and exit")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    remove = sub.add_parser("remove", help="forget a storage (its data stays)", add_help=False, aliases=["rm"])
    remove.add_argument("-h", action="help", help="show this help and exit")
    remove.add_argument("name", metavar="NAME")
    default = sub.add_parser("default", help="pick the default storage (or show it)", add_help=False)
    default.add_argument("-h", action="help", help="show this help and exit")
    default.add_argument("name", metavar="NAME", nargs="?")
    default.add_argument("--local", action="store_true", help="only for this clone (.git/config)")


def run(args: argparse.Namespace) -> int:
    project = open_project()
    if args.action == "add":
        settings = _add_settings(args)
        templates = [v for k, v in settings.items() if k in TEMPLATES]
        add_storage(project, args.name, settings, make_default=args.default, local=args.local)
        if templates:
            from gitdata.trust import approve

            approve(project.repo, templates)
        default = " (default)" if default_storage_name(project) == args.name else ""
        output.info(f"added storage '{args.name}'{default}: {storage_config(config.values(project.repo), args.name).url}")
    elif args.action in ("list", "ls"):
        show(project, args.json)
    elif args.action in ("remove", "rm"):
        remove_storage(project, args.name)
        output.info(f"removed storage '{args.name}' (the data it holds was not touched)")
    else:
        if args.name is None:
            name = default_storage_name(project)
            if name is None:
                raise GitDataError("no default storage")
            output.out(name)
        else:
            set_default(project, args.name, args.local)
            output.info(f"default storage: {args.name}")
    return 0


def _add_settings(args: argparse.Namespace) -> dict[str, str]:
    templates_given = any(getattr(args, f"cmd_{n}") for n in TEMPLATES)
    kind = args.type or ("generic" if templates_given else "s3" if args.preset else kind_of_url(args.url))
    settings = {"url": args.url, "type": kind}
    if kind == "s3":
        from gitdata.storage.s3 import check_endpoint, parse_s3_url, preset_settings

        parse_s3_url(args.url)
        endpoint, region = args.endpoint_url, args.region
        if args.preset:
            endpoint, region = preset_settings(args.preset, endpoint, region, args.account_id)
            settings["preset"] = args.preset
        check_endpoint(endpoint, f"storage '{args.name}'")
        for key, value in (("endpointUrl", endpoint), ("region", region), ("profile", args.profile)):
            if value:
                settings[key] = value
    elif any((args.endpoint_url, args.region, args.profile, args.preset, args.account_id)):
        raise UsageError("--endpoint-url, --region, --profile, --preset and --account-id are for S3 storages")
    if kind == "generic":
        for name in TEMPLATES:
            if getattr(args, f"cmd_{name}"):
                settings[name] = getattr(args, f"cmd_{name}")
        if "upload" not in settings or "download" not in settings or not ({"list", "exists"} & set(settings)):
            raise UsageError("a generic storage needs --upload, --download and --list (or --exists) commands")
        if args.processes is not None:
            if args.processes < 1:
                raise UsageError("--processes must be at least 1")
            settings["processes"] = str(args.processes)
        if args.timeout is not None:
            from gitdata.storage import StorageConfig
            from gitdata.storage.generic import timeout_of

            timeout_of(StorageConfig(args.name, kind, args.url, {"timeout": args.timeout}))  # one clear error
            settings["timeout"] = args.timeout
    elif args.processes is not None or args.timeout is not None or templates_given:
        raise UsageError("command templates, --processes and --timeout are for generic storages")
    if kind == "rsync":
        from gitdata.storage.rsync import check_target, split_target

        check_target(args.url, split_target(args.url)[0])
    return settings


def add_storage(project: Project, name: str, settings: dict[str, str], make_default: bool = False,
                local: bool = False) -> None:
    """Record a storage definition; the first one becomes the default."""
    if not _NAME.match(name):
        raise UsageError(f"bad storage name '{name}': use letters, digits, '-' and '_'")
    existing = storage_names(project)
    if name in existing:
        raise GitDataError(f"storage '{name}' already exists; remove it first ('git data storage remove {name}')")
    from gitdata.storage.s3 import env_prefix

    for other in existing:
        if env_prefix(other) == env_prefix(name):   # one storage's keys must never reach another
            raise UsageError(f"storage name '{name}' would share the credential variables {env_prefix(name)}* "
                             f"with storage '{other}'; pick another name")
    if settings.get("type") == "local":
        from gitdata.storage.local import LocalStorage, local_path

        # The one moment a missing directory is created: see LocalStorage.prepare.
        try:
            LocalStorage(name, local_path(project.repo, settings["url"])).prepare(create=True)
        except GitDataError as exc:
            raise GitDataError(f"{exc}; the storage was not added") from None
    for key, value in settings.items():
        config.set_value(project.repo, f"storage.{name}.{key}", value, local=local)
    if make_default or not existing:
        config.set_value(project.repo, DEFAULT_KEY, name, local=local)
    if not local:
        git.stage(project.repo, [CONFIG_PATH])


def remove_storage(project: Project, name: str) -> None:
    """Forget a storage definition (committed and local); never touches its data."""
    if name not in storage_names(project):
        raise GitDataError(f"no storage named '{name}'")
    prefix = f"storage.{name}."
    settings = config.values(project.repo)
    for key in settings:
        if key.startswith(prefix):
            config.unset(project.repo, key)
            config.unset(project.repo, key, local=True)
    if settings.get("core.defaultstorage") == name:
        config.unset(project.repo, DEFAULT_KEY)
        config.unset(project.repo, DEFAULT_KEY, local=True)
        rest = storage_names(project)
        if len(rest) == 1:
            config.set_value(project.repo, DEFAULT_KEY, rest[0])
    _drop_empty_sections(project, name)
    git.stage(project.repo, [CONFIG_PATH])


def _drop_empty_sections(project: Project, name: str) -> None:
    """The section headers git leaves behind once their last key is gone."""
    for local in (False, True):
        config.remove_section(project.repo, f"storage.{name}", local=local)


def set_default(project: Project, name: str, local: bool = False) -> None:
    if name not in storage_names(project):
        raise GitDataError(f"no storage named '{name}'")
    config.set_value(project.repo, DEFAULT_KEY, name, local=local)
    if not local:
        git.stage(project.repo, [CONFIG_PATH])


def describe_all(project: Project) -> list[dict[str, object]]:
    settings = config.values(project.repo)
    default = default_storage_name(project)
    rows = []
    for name in storage_names(project):
        cfg = storage_config(settings, name)
        row: dict[str, object] = {"name": name, "type": cfg.kind, "url": cfg.url, "default": name == default}
        for key in ("endpointurl", "region", "profile", "preset", "processes"):
            if cfg.get(key):
                row[key] = cfg.get(key)
        rows.append(row)
    return rows


def show(project: Project, as_json: bool) -> None:
    rows = describe_all(project)
    if as_json:
        output.print_json(rows)
        return
    if not rows:
        output.info("no storages; add one with 'git data storage add NAME URL'")
        return
    width = max(len(str(r["name"])) for r in rows)
    for row in rows:
        mark = "*" if row["default"] else " "
        extra = f"  ({row['endpointurl']})" if row.get("endpointurl") else ""
        output.out(f"{mark} {str(row['name']):<{width}}  {str(row['type']):<7}  {row['url']}{extra}")
