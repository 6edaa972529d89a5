"""git data run (repro): run the pipeline steps that are stale, in parallel."""
from __future__ import annotations

import argparse

from gitdata import output
from gitdata.errors import UsageError
from gitdata.pipeline.runner import Options, Outcome, outcome_json
from gitdata.project import open_project

ALL = "\0all"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("steps", nargs="*", metavar="STEP", help="run these steps (and what they need) only")
    parser.add_argument("-p", "--pipeline-name", "--pipeline", dest="pipeline", metavar="PIPELINE",
                        help="the pipeline (default: the default pipeline)")
    parser.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                        help="run at most N steps at once (default: one per CPU)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="show what would run, and why; run nothing")
    parser.add_argument("-f", "--force", nargs="?", action="append", const=ALL, metavar="STEP",
                        help="run even if up to date: every step, or the one named (repeatable)")
    parser.add_argument("-k", "--keep-going", action="store_true",
                        help="after a failure, go on with the steps that do not depend on it")
    parser.add_argument("--no-restore", action="store_true",
                        help="recompute stale steps even when their outputs for these inputs are in the cache")
    commit = parser.add_mutually_exclusive_group()
    commit.add_argument("--commit", action="store_true", default=None,
                        help="commit after each step (its message from $GITDATA_COMMIT_MSG_FILE)")
    commit.add_argument("--no-commit", dest="commit", action="store_false", help="never commit")
    parser.add_argument("--push", choices=("each", "end", "none"), help="git push (and data push) after each "
                        "step or at the end")
    parser.add_argument("-P", "--no-data-push", action="store_true", help="with --push: push git only")
    parser.add_argument("--json", action="store_true", help="machine-readable outcome of every step")


def run(args: argparse.Namespace) -> int:
    from gitdata.pipeline import runner

    if args.jobs < 0:
        raise UsageError("git data run: --jobs must be at least 1")
    forced = args.force or []
    options = Options(targets=tuple(args.steps), jobs=args.jobs, dry_run=args.dry_run,
                      force_all=ALL in forced, force=frozenset(f for f in forced if f != ALL),
                      keep_going=args.keep_going, no_restore=args.no_restore, commit=args.commit,
                      push=args.push, data_push=not args.no_data_push)
    project = open_project()
    outcomes = runner.run(project, args.pipeline, options)
    if args.json:
        output.print_json([outcome_json(o) for o in outcomes])
    else:
        report(outcomes, args.dry_run)
    return 1 if any(o.result == "failed" for o in outcomes) else 0


def report(outcomes: list[Outcome], dry_run: bool) -> None:
    for outcome in outcomes:
        if outcome.result == "would-run":
            output.out(f"would run {outcome.step}: {'; '.join(outcome.reasons) or 'stale'}")
        elif outcome.result == "failed":
            output.error(outcome.message)
        elif outcome.result in ("skipped", "not-run"):
            output.warn(f"{outcome.step} not run: {outcome.message}")
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    if not outcomes:
        output.info("no steps in this pipeline (define some with 'git data step new')")
        return
    if set(counts) <= {"fresh", "never"}:
        output.info(f"everything is up to date ({len(outcomes)} step(s))")
        return
    words = {"ran": "ran", "restored": "restored from cache", "fresh": "up to date", "would-run": "would run",
             "failed": "failed", "skipped": "skipped", "not-run": "not started", "never": "disabled"}
    output.info(", ".join(f"{counts[k]} {w}" for k, w in words.items() if k in counts))
