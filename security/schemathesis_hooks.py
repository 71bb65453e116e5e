"""Schemathesis hooks for `security/run api` (loaded through `hooks` in schemathesis.toml).

Stateful scenarios only: a DELETE is sent without `cascade=true`.

Deleting a company with `cascade=true` deletes its persons, their activities and sales
(documented, and tested by the API suite). Schemathesis knows that a DELETE removes what
lies below its own path, not what a cascade takes with it: a scenario that creates a person
of a company, deletes the company with cascade and then fetches the person reports
"ST302 created resource not found" for a deletion the API was asked to make. Without
cascade a record with links answers 409 and stays, so every created record a scenario
fetches must still be there, and the check keeps its full strength. The other phases
(examples, coverage, fuzzing) still send `cascade=true` and every other value.
"""

import schemathesis
from schemathesis.generation.meta import TestPhase


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    meta = getattr(case, "meta", None)
    if meta is None or meta.phase.name != TestPhase.STATEFUL:
        return
    if case.method.upper() != "DELETE" or not case.query or "cascade" not in case.query:
        return
    case.query["cascade"] = "false"
