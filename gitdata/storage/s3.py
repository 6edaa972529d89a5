"""S3 and S3-compatible storages (MinIO, Cloudflare R2, GCS, Wasabi, DigitalOcean Spaces).

boto3 is imported only when a storage of this kind is opened. Credentials come
from `GITDATA_STORAGE_<NAME>_ACCESS_KEY_ID` / `_SECRET_ACCESS_KEY` (and
`_SESSION_TOKEN`) when set, otherwise from boto3's own chain (AWS_* variables,
`--profile`, ~/.aws, instance roles); they are never written to any file."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote, urlparse, urlsplit

from gitdata.errors import GitDataError
from gitdata.storage import MARKER, MARKER_TEXT, StorageConfig, digests_in, key_of
from gitdata.storage.http1 import Connection, Reply

if TYPE_CHECKING:
    from gitdata.git import GitRepo

MULTIPART = 64 << 20
PART = 16 << 20
HEAD_LIMIT = 64
LIST_PAGES = 16
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
ATTEMPTS = 3
LEAN_MAX = 1 << 20
LIST_MAX = 16 << 20   # a listing page of 1000 keys is about 300 KB

PRESETS = ("aws", "minio", "r2", "gcs", "wasabi", "digitalocean")


def preset_settings(preset: str, endpoint: str | None, region: str | None,
                    account_id: str | None) -> tuple[str | None, str | None]:
    """(endpoint URL, region) for an S3-compatible service."""
    preset = preset.lower()
    if preset == "aws":
        return endpoint, region
    if preset == "minio":
        if not endpoint:
            raise GitDataError("the minio preset needs --endpoint-url (e.g. http://localhost:9000)")
        return endpoint, region or "us-east-1"
    if preset == "r2":
        if not endpoint and not account_id:
            raise GitDataError("the r2 preset needs --account-id (your Cloudflare account id)")
        return endpoint or f"https://{account_id}.r2.cloudflarestorage.com", region or "auto"
    if preset == "gcs":
        return endpoint or "https://storage.googleapis.com", region or "auto"
    if preset == "wasabi":
        region = region or "us-east-1"
        return endpoint or f"https://s3.{region}.wasabisys.com", region
    if preset == "digitalocean":
        region = region or "nyc3"
        return endpoint or f"https://{region}.digitaloceanspaces.com", region
    raise GitDataError(f"unknown S3 preset '{preset}' (choose from {', '.join(PRESETS)})")


def parse_size(text: str | None, default: int, where: str) -> int:
    """A byte count like 64M, 1G or 5242880 (a multipart threshold or part size)."""
    if not text:
        return default
    match = re.fullmatch(r"\s*(\d+)\s*([kmgKMG]?)i?[bB]?\s*", text)
    if not match:
        raise GitDataError(f"{where}: bad size '{text}' (e.g. 64M)")
    return int(match.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[match.group(2).lower()]


def env_prefix(name: str) -> str:
    return "GITDATA_STORAGE_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_"


def parse_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise GitDataError(f"not an S3 URL: '{url}' (expected s3://bucket/prefix)")
    prefix = parsed.path.strip("/")
    return parsed.netloc, prefix + "/" if prefix else ""


def check_endpoint(endpoint: str | None, where: str) -> None:
    """An endpoint boto3 would reject only at the first request, as one clear line now."""
    if endpoint is None:
        return
    parsed = urlparse(endpoint)
    try:
        parsed.port
    except ValueError:
        raise GitDataError(f"{where}: endpoint URL '{endpoint}' has a bad port") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise GitDataError(f"{where}: endpoint URL '{endpoint}' is not an http:// or https:// URL")


class LeanRequests:
    """Single-object HEAD, GET and PUT of small objects, and listing pages, signed by
    `sigv4` (the signature botocore makes, for a fraction of its CPU) and exchanged by
    `http1` on one kept-alive connection per thread. A boto3 call spends about four
    times the CPU on its event and retry machinery, and for objects of a few KiB that
    CPU, not the network, bounds a push or pull. Whatever is not a plain success (or a
    404 for HEAD) goes back to boto3: redirects, throttling, retries and error messages
    stay boto3's, and so does everything once a connection cannot be made. The URL
    layout comes from boto3 too (a presigned URL of a sample key), so path-style and
    virtual-hosted addressing both work."""

    def __init__(self, name: str, client: Any, credentials: Any, bucket: str, prefix: str) -> None:
        self.name = name
        sample = prefix + "gitdata-sample"
        url = urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": sample}))
        quoted = quote(sample, safe="/~")
        if not url.path.endswith(quoted) or url.scheme not in ("http", "https"):
            raise ValueError(f"unexpected object URL {url.geturl()}")
        self.scheme, self.host, self.base = url.scheme, url.netloc, url.path[: -len(quoted)]
        default_port = ":443" if url.scheme == "https" else ":80"
        self.host_header = self.host[: -len(default_port)] if self.host.endswith(default_port) else self.host
        self.credentials, self.region = credentials, client.meta.region_name
        self.cafile = os.environ.get("AWS_CA_BUNDLE") or None
        self.broken = False
        self._local = threading.local()

    def head(self, key: str) -> bool | None:
        """Whether the object exists; None: ask boto3."""
        reply = self._request("HEAD", key)
        return None if reply is None or reply.status not in (200, 404) else reply.status == 200

    def put(self, key: str, body: bytes) -> bool:
        """Whether the object was stored (Content-MD5 makes the server check the bytes)."""
        reply = self._request("PUT", key, body)
        return reply is not None and reply.status == 200

    def get(self, key: str, limit: int, dest: str | Path, dest_limit: int) -> Reply | None:
        """The object, in the reply when it is no bigger than `limit`, else (up to
        `dest_limit`) written into `dest`; None: ask boto3."""
        reply = self._request("GET", key, limit=limit, spill=dest, spill_limit=dest_limit)
        return reply if reply is not None and reply.status == 200 else None

    def list_page(self, prefix: str, token: str | None) -> tuple[list[str], str | None] | None:
        """One ListObjectsV2 page: its keys and the token of the next page (None at the
        end); None: ask boto3. Only keys are read, so no timestamps are parsed."""
        from xml.etree import ElementTree

        query = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
        reply = self._request("GET", "", query=query, limit=LIST_MAX)
        if reply is None or reply.status != 200:
            return None
        try:
            root = ElementTree.fromstring(reply.body)
        except ElementTree.ParseError:
            return None
        found: dict[str, list[str]] = {"Key": [], "NextContinuationToken": [], "IsTruncated": []}
        for element in root.iter():
            name = element.tag.rpartition("}")[2]
            if name in found:
                found[name].append(element.text or "")
        truncated = found["IsTruncated"] == ["true"]
        if truncated and not found["NextContinuationToken"]:
            return None
        return found["Key"], found["NextContinuationToken"][0] if truncated else None

    def _request(self, method: str, key: str, body: bytes | None = None, query: dict[str, str] | None = None,
                 limit: int = LIST_MAX, spill: str | Path | None = None, spill_limit: int = 0) -> Reply | None:
        """The reply; None where boto3 must answer (see http1), and for good once a
        connection failed twice (a kept-alive connection the server closed fails once)."""
        from gitdata.storage.sigv4 import canonical_query, signed_headers

        path = self.base + quote(key, safe="/~") if key else self.base.rstrip("/") or "/"
        query_text = canonical_query(query) if query else ""
        headers = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()} if body is not None else {}
        for _ in range(2):
            if self.broken:
                return None
            signed = signed_headers(self.credentials.get_frozen_credentials(), self.region, method,
                                    self.host_header, path, query_text, headers, body)
            connection = self._connection()
            try:
                return connection.exchange(method, f"{path}?{query_text}" if query_text else path,
                                           {"Host": self.host_header, **signed}, body, limit, spill, spill_limit)
            except TimeoutError:
                # connected, then silence: retrying here and again in boto3 would wait minutes
                connection.close()
                self.broken = True
                raise GitDataError(f"storage '{self.name}': {self.scheme}://{self.host} did not answer within "
                                   f"{READ_TIMEOUT} s ({method} {key or 'listing'})") from None
            except OSError:
                connection.close()
        self.broken = True
        return None

    def _connection(self) -> Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            context = None
            if self.scheme == "https":
                import ssl

                context = ssl.create_default_context(cafile=self.cafile)
            connection = self._local.connection = Connection(self.scheme, self.host, CONNECT_TIMEOUT,
                                                             READ_TIMEOUT, context)
        return connection


def lean_requests(name: str, client: Any, credentials: Any, bucket: str, prefix: str) -> LeanRequests | None:
    """None where boto3 must do everything itself: behind a proxy (boto3 honours
    HTTP(S)_PROXY) or where the object URL cannot be derived."""
    import urllib.request

    try:
        lean = LeanRequests(name, client, credentials, bucket, prefix)
    except ValueError:
        return None
    host = lean.host.rpartition("@")[2].partition(":")[0]
    if urllib.request.getproxies().get(lean.scheme) and not urllib.request.proxy_bypass(host):
        return None
    return lean


class S3Storage:
    default_jobs = 16

    def __init__(self, name: str, url: str, endpoint: str | None = None, region: str | None = None,
                 profile: str | None = None, multipart: int = MULTIPART, part: int = PART) -> None:
        self.name, self.url = name, url
        self.multipart, self.part = multipart, part
        self.bucket, self.prefix = parse_s3_url(url)
        self.endpoint, self.region, self.profile = endpoint, region, profile
        self._client: Any = None
        self._lean: LeanRequests | None = None
        self._ready = False

    @classmethod
    def from_config(cls, repo: GitRepo, config: StorageConfig) -> S3Storage:
        endpoint, region = config.get("endpointurl"), config.get("region")
        preset = config.get("preset")
        if preset:
            endpoint, region = preset_settings(preset, endpoint, region, config.get("accountid"))
        check_endpoint(endpoint, f"storage '{config.name}'")
        multipart = parse_size(config.get("multipartthreshold"), MULTIPART, f"storage '{config.name}'")
        part = parse_size(config.get("multipartchunksize"), PART, f"storage '{config.name}'")
        return cls(config.name, config.url, endpoint, region, config.get("profile"), multipart, max(part, 5 << 20))

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"S3 bucket {self.bucket}{where}, prefix '{self.prefix}'"

    # -- connection ------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        prefix = env_prefix(self.name)
        key_id, secret = os.environ.get(prefix + "ACCESS_KEY_ID"), os.environ.get(prefix + "SECRET_ACCESS_KEY")
        if bool(key_id) != bool(secret):
            raise GitDataError(f"storage '{self.name}': set both {prefix}ACCESS_KEY_ID and "
                               f"{prefix}SECRET_ACCESS_KEY, or neither")
        try:
            session = boto3.session.Session(
                aws_access_key_id=key_id or None, aws_secret_access_key=secret or None,
                aws_session_token=os.environ.get(prefix + "SESSION_TOKEN") if key_id else None,
                profile_name=None if key_id else self.profile, region_name=self.region)
            credentials = session.get_credentials()
        except botocore.exceptions.ProfileNotFound:
            raise GitDataError(f"storage '{self.name}': AWS profile '{self.profile}' not found") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise GitDataError(f"storage '{self.name}': cannot load credentials: {exc}") from None
        if credentials is None:
            raise GitDataError(f"storage '{self.name}': no S3 credentials found; set {prefix}ACCESS_KEY_ID and "
                               f"{prefix}SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                               "or configure an AWS profile")
        config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                        retries={"max_attempts": ATTEMPTS, "mode": "standard"}, max_pool_connections=48,
                        s3={"addressing_style": "path"} if self.endpoint else None,
                        signature_version="s3v4")
        client = session.client("s3", endpoint_url=self.endpoint, config=config,
                                region_name=self.region or session.region_name or "us-east-1")
        self._lean = lean_requests(self.name, client, credentials, self.bucket, self.prefix)
        return client

    def _lean_path(self) -> LeanRequests | None:
        """The lean requests, or None where boto3 does everything."""
        if self._client is None:
            self._client = self._connect()
        return self._lean if self._lean is not None and not self._lean.broken else None

    def _error(self, exc: BaseException, what: str) -> GitDataError:
        """One clear line for anything boto3 raises."""
        import botocore.exceptions as bex

        where = f"storage '{self.name}'"
        if isinstance(exc, GitDataError):
            return exc
        if isinstance(exc, bex.NoCredentialsError):
            prefix = env_prefix(self.name)
            return GitDataError(f"{where}: no S3 credentials found; set {prefix}ACCESS_KEY_ID and "
                                f"{prefix}SECRET_ACCESS_KEY, or the AWS_* variables")
        if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError,
                            bex.ConnectionClosedError)):
            return GitDataError(f"{where}: cannot reach {self.endpoint or 'S3'} ({what}): {exc}")
        if isinstance(exc, bex.ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                return GitDataError(f"{where}: bucket '{self.bucket}' does not exist; create it first")
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"):
                return GitDataError(f"{where}: access denied ({what}); check the credentials ({code})")
            message = exc.response.get("Error", {}).get("Message") or code
            return GitDataError(f"{where}: {what} failed: {message}")
        if isinstance(exc, bex.BotoCoreError):
            return GitDataError(f"{where}: {what} failed: {exc}")
        if isinstance(exc, OSError):
            return GitDataError(f"{where}: {what} failed: {exc}")
        raise exc

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - translated into one line
            raise self._error(exc, what) from None

    def _key(self, digest: str) -> str:
        return self.prefix + key_of(digest)

    # -- protocol --------------------------------------------------------

    def prepare(self) -> None:
        """Write the marker before the first upload (and find a missing bucket early)."""
        if self._ready:
            return
        if not self._head(self.prefix + MARKER):
            self._call("writing the marker", self.client.put_object, Bucket=self.bucket,
                       Key=self.prefix + MARKER, Body=MARKER_TEXT)
        self._ready = True

    def _head(self, key: str) -> bool:
        import botocore.exceptions

        lean = self._lean_path()
        found = lean.head(key) if lean is not None else None
        if found is not None:
            return found
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except botocore.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 and exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error(exc, f"checking {key}") from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"checking {key}") from None

    def exists(self, digests: list[str]) -> set[str]:
        """Few digests: parallel HEADs. Many: one listing of the storage while it is small
        (LIST_PAGES pages of 1000 keys), else parallel listings of just the shards
        (<algorithm>/<2 hex>/) the digests live in, so a huge bucket costs no full scan."""
        if not digests:
            return set()
        wanted = set(digests)
        if len(wanted) <= HEAD_LIMIT:
            found = self._heads(sorted(wanted))
        else:
            found = set()
            for number, keys in enumerate(self._pages(self.prefix)):
                if number >= LIST_PAGES:
                    found = self._shard_listing(wanted)
                    break
                found.update(digests_in(keys))
            found &= wanted
        if not found:
            self._refuse_missing_bucket()
        return found

    def _refuse_missing_bucket(self) -> None:
        """A HEAD of an object in a missing bucket is a plain 404: when nothing was found,
        ask about the bucket itself. Only its absence is an error (credentials limited to
        objects may not ask about buckets)."""
        import botocore.exceptions

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                raise GitDataError(f"storage '{self.name}': bucket '{self.bucket}' does not exist; "
                                   "create it first") from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "checking the bucket") from None

    def _heads(self, wanted: list[str]) -> set[str]:
        with ThreadPoolExecutor(16) as pool:
            found = list(pool.map(lambda d: self._head(self._key(d)), wanted))
        return {d for d, ok in zip(wanted, found) if ok}

    def _shard_listing(self, wanted: set[str]) -> set[str]:
        shards = sorted({key_of(d)[: key_of(d).index("/") + 3] for d in wanted})
        with ThreadPoolExecutor(16) as pool:
            listed = list(pool.map(lambda shard: set(self._list(self.prefix + shard + "/")), shards))
        return set().union(*listed) & wanted

    def _list(self, prefix: str) -> Iterator[str]:
        for keys in self._pages(prefix):
            yield from digests_in(keys)

    def _pages(self, prefix: str) -> Iterator[list[str]]:
        """The keys under `prefix`, a page of up to 1000 at a time: lean requests while
        they work, boto3's paginator from where they stopped."""
        token = None
        lean = self._lean_path()
        while lean is not None:
            page = lean.list_page(prefix, token)
            if page is None:
                break
            keys, token = page
            yield keys
            if token is None:
                return
        config = {"PageSize": 1000, **({"StartingToken": token} if token else {})}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig=config)
        try:
            for page in pages:
                yield [item["Key"] for item in page.get("Contents", ())]
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "listing") from None

    def list_digests(self) -> Iterator[str]:
        return self._list(self.prefix)

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=self.multipart, multipart_chunksize=self.part,
                              max_concurrency=8)

    def upload(self, digest: str, src: Path) -> None:
        # S3 makes an object visible only once its PUT (or multipart upload) completes.
        size = os.path.getsize(src)
        if size <= LEAN_MAX:
            self.upload_bytes(digest, Path(src).read_bytes())
            return
        self.prepare()
        key = self._key(digest)
        if size < self.multipart:
            with open(src, "rb") as handle:
                self._call(f"uploading {digest}", self.client.put_object, Bucket=self.bucket, Key=key, Body=handle)
        else:
            self._call(f"uploading {digest}", self.client.upload_file, str(src), self.bucket, key,
                       Config=self._transfer_config())

    def upload_bytes(self, digest: str, body: bytes) -> None:
        """upload() of a small object already read (and verified) by the caller."""
        self.prepare()
        key = self._key(digest)
        lean = self._lean_path()
        if lean is not None and lean.put(key, body):
            return
        self._call(f"uploading {digest}", self.client.put_object, Bucket=self.bucket, Key=key, Body=body)

    def download_bytes(self, digest: str, limit: int, dest: str | Path) -> bytes | None:
        """The object's bytes when it is no bigger than `limit`, else None once it is in `dest`."""
        lean = self._lean_path()
        reply = lean.get(self._key(digest), limit, dest, self.multipart) if lean is not None else None
        if reply is None:
            self._boto_download(digest, dest)
            return None
        return None if reply.spilled else reply.body

    def download(self, digest: str, dest: Path) -> None:
        data = self.download_bytes(digest, 0, dest)
        if data is not None:
            dest.write_bytes(data)   # an empty object

    def _boto_download(self, digest: str, dest: str | Path) -> None:
        import botocore.exceptions

        key = self._key(digest)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            if response.get("ContentLength", 0) >= self.multipart:
                body.close()
                self.client.download_file(self.bucket, key, str(dest), Config=self._transfer_config())
                return
            with open(dest, "wb") as handle:
                shutil.copyfileobj(body, handle, 1 << 20)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise GitDataError(f"storage '{self.name}' does not have object {digest}") from None
            raise self._error(exc, f"downloading {digest}") from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"downloading {digest}") from None

    def delete(self, digest: str) -> None:
        self._call(f"deleting {digest}", self.client.delete_object, Bucket=self.bucket, Key=self._key(digest))

    def share_url(self, digest: str, seconds: int, filename: str) -> str:
        if not self._head(self._key(digest)):
            raise GitDataError(f"storage '{self.name}' does not have object {digest}; push it first")
        params = {"Bucket": self.bucket, "Key": self._key(digest),
                  "ResponseContentDisposition": f'attachment; filename="{filename}"'}
        return str(self._call("signing a URL", self.client.generate_presigned_url, "get_object",
                              Params=params, ExpiresIn=seconds))
