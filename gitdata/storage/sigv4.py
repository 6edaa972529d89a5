"""AWS Signature Version 4 for the lean S3 requests: two hashes and one HMAC per request.

botocore's signer builds and parses URLs, header objects and logging strings on every
call; for objects of a few KiB it spent more client CPU than the HTTP exchange itself.
This computes the same signature (a test checks it against botocore's, header for
header) from what the lean path already has in hand."""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Mapping
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_signing_keys: dict[tuple[str, str, str, str], bytes] = {}


def canonical_query(query: Mapping[str, str]) -> str:
    """The query string as sent and as signed: sorted, every byte but -_.~ escaped."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))


def signed_headers(credentials: Any, region: str, method: str, host: str, path: str, query: str,
                   headers: Mapping[str, str], body: bytes | None, service: str = "s3",
                   now: float | None = None) -> dict[str, str]:
    """`headers` plus x-amz-date, x-amz-content-sha256, the session token (if any) and
    Authorization, for a request to `host` (as in the Host header) at `path` (already
    escaped) with `query` (from canonical_query)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = stamp[:8]
    out = dict(headers)
    out["X-Amz-Date"] = stamp
    out["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    if credentials.token:
        out["X-Amz-Security-Token"] = credentials.token
    signed = sorted((name.lower(), " ".join(value.split())) for name, value in [("Host", host), *out.items()])
    names = ";".join(name for name, _ in signed)
    canonical = "\n".join([method, path, query, "".join(f"{n}:{v}\n" for n, v in signed), names,
                           out["X-Amz-Content-SHA256"]])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(_signing_key(credentials.secret_key, day, region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    out["Authorization"] = (f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
                            f"SignedHeaders={names}, Signature={signature}")
    return out


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """Derived once per day, region and secret (four HMACs)."""
    cached = _signing_keys.get((secret, day, region, service))
    if cached is None:
        key = f"AWS4{secret}".encode()
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        cached = _signing_keys[(secret, day, region, service)] = key
    return cached
