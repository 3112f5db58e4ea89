"""Fault injection for the recovery tests: kill the nightly run in the middle of a step.

With CONTACTS_KILL_AT=<checkpoint> in the environment, the process that reaches that
checkpoint kills itself (and the dbt process it waits on) with SIGKILL, as `kill -9`,
a reboot or the OOM killer would: no handler, no clean-up. The checkpoints sit where
a step has done part of its work and not the rest:

| checkpoint                | where                                                        |
|---------------------------|--------------------------------------------------------------|
| load                      | landing files extracted and normalised by dlt, not loaded    |
| build_before_enrichment   | dbt has finished some nodes of the first build phase         |
| enrich                    | a batch of provider answers is on disk, not in the warehouse |
| build_after_enrichment    | dbt has finished some nodes of the second build phase        |
| export                    | one segment's files are swapped in, the others and the manifest are not |

Unset (always, outside tests), checkpoints do nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess

log = logging.getLogger(__name__)

KILL_AT_ENV = "CONTACTS_KILL_AT"


def checkpoint(name: str, child: subprocess.Popen | None = None) -> None:
    """Kill this process (and `child`) here when CONTACTS_KILL_AT names this checkpoint."""
    if os.environ.get(KILL_AT_ENV) != name:
        return
    log.warning("fault injection: killing the run at checkpoint %s", name)
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()
    os.kill(os.getpid(), signal.SIGKILL)
