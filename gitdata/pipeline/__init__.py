"""Pipelines: steps defined in `.gitdata/pipelines/<pipeline>/<step>.yaml` that re-run
exactly when their inputs change.

    model      step files: load (validated, with file:line errors), save, settings
    deps       dependency kinds, each computing a digest of what it depends on
    dag        the graph of steps (explicit and implicit edges), cycles, drawings
    freshness  why a step is stale (or not), without running anything
    outputs    outputs: hash and record after a run, restore from the cache
    runner     the scheduler: a ready queue under one concurrency bound
"""
