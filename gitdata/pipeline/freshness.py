"""Why a step must run (or need not), computed without running anything."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

from gitdata.errors import GitDataError
from gitdata.pipeline.deps import Context
from gitdata.pipeline.model import Record, Step

COMMAND_KEY = "command-digest"
ABSENT = "absent"
FRESH, STALE, NEVER, ERROR = "fresh", "stale", "never", "error"


class Verdict(NamedTuple):
    state: str                      # fresh, stale, never (when: never), error
    reasons: list[str]
    snapshot: dict[str, str]        # dep key -> digest, as it is now
    items: dict[str, Any]           # dep key -> items, for *-items dependencies
    missing_deps: list[str]         # paths that do not exist
    outputs: dict[str, str | None]  # declared output -> digest now, as recorded (None: missing)
    output_files: dict[str, str]    # every existing output file -> digest


def record_fingerprint(record: Record | None) -> str | None:
    """What a `step` dependency on this step sees: changes whenever the step ran with
    different inputs or produced different outputs."""
    if record is None:
        return None
    from gitdata.hashing import digest_bytes

    text = json.dumps([record.deps, record.outputs], sort_keys=True)
    return "run " + digest_bytes(text.encode())[3:23]


def command_digest(command: str) -> str:
    from gitdata.hashing import digest_bytes

    return digest_bytes(command.encode("utf-8", "surrogateescape"))


def output_states(ctx: Context, step: Step) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each declared output's digest now, as the record keeps it (a directory: "dir "
    and the digest of its listing; None when missing), and every output file that
    exists with its digest."""
    from gitdata.pipeline.deps import dir_listing, listing_digest

    states: dict[str, str | None] = {}
    files: dict[str, str] = {}
    for out in step.outputs:
        if out.kind == "dir":
            if not os.path.isdir(os.path.join(ctx.root, out.path)):
                states[out.path] = None
                continue
            listing = dir_listing(ctx, out.path)
            files.update(listing)
            states[out.path] = "dir " + listing_digest(listing, ctx.algorithm)
        else:
            digest = ctx.file_digest(out.path)
            states[out.path] = digest
            if digest is not None:
                files[out.path] = digest
    return states, files


def evaluate(ctx: Context, step: Step, cwd: Path, upstream_record: Callable[[str], Record | None],
             force: bool = False) -> Verdict:
    reasons: list[str] = []
    snapshot: dict[str, str] = {COMMAND_KEY: command_digest(step.command)}
    items: dict[str, Any] = {}
    missing: list[str] = []
    record = step.record
    old = record.deps if record else {}
    try:
        for dep in step.deps:
            if dep.kind == "step":
                digest = record_fingerprint(upstream_record(dep.spec)) or ABSENT
                snapshot[dep.key] = digest
                if record is not None and old.get(dep.key) != digest:
                    reasons.append(f"upstream step {dep.spec} ran")
                continue
            value = ctx.value(dep, cwd)
            digest = value.digest or ABSENT
            snapshot[dep.key] = digest
            if value.items is not None:
                items[dep.key] = value.items
            if value.digest is None:
                missing.append(dep.spec)
                reasons.append(f"dependency missing: {dep.describe()}")
            elif record is not None and old.get(dep.key) != digest:
                reasons.append(_change_reason(dep.kind, dep.describe(), dep.key in old, value.detail))
        outputs, files = output_states(ctx, step)
    except GitDataError as exc:
        return Verdict(ERROR, [str(exc)], snapshot, items, missing, {}, {})
    if step.when == "never":
        return Verdict(NEVER, ["when: never"], snapshot, items, missing, outputs, files)
    if record is None:
        reasons.insert(0, "never run")
    else:
        if old.get(COMMAND_KEY) != snapshot[COMMAND_KEY]:
            reasons.insert(0, "command changed")
        for key in sorted(set(old) - set(snapshot)):
            reasons.append(f"dependency removed: {key}")
        for rel, out_digest in outputs.items():
            if out_digest is None:
                reasons.append(f"output missing: {rel}")
            elif record.outputs.get(rel) != out_digest:
                reasons.append(f"output modified: {rel}")
    if step.when == "always":
        reasons.insert(0, "when: always")
    if force:
        reasons.insert(0, "forced")
    return Verdict(STALE if reasons else FRESH, reasons, snapshot, items, missing, outputs, files)


def _change_reason(kind: str, described: str, known: bool, detail: str) -> str:
    if not known:
        return f"new dependency: {described}"
    if kind == "param":
        return f"param changed: {detail}"
    if kind == "schedule":
        return f"schedule due: {described.split(' ', 1)[1]} ({detail})"
    return f"changed: {described}"


def only_outputs_missing(verdict: Verdict, step: Step) -> bool:
    """Stale only because outputs are missing or modified: the record's outputs belong to
    the current inputs."""
    return bool(step.record) and all(r.startswith(("output missing", "output modified")) for r in verdict.reasons)
