"""``scripts/cluster-demo``: run the cluster scenario and print what happened.

Exit status 0 when nothing was lost or graded twice, 1 otherwise, 2 when this machine cannot
make network namespaces. ``--keep-logs`` leaves the services' logs in place and says where.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from tests.cluster import netns
from tests.cluster.cluster import Cluster, ClusterError
from tests.cluster.scenario import run


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # Unwind through the cluster's ``with`` so its namespaces are removed.
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    problem = netns.available()
    if problem:
        print(f"cluster-demo: {problem}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="grader-cluster-"))
    ok = False
    try:
        with Cluster(tmp) as cluster:
            tally = run(cluster, say=lambda line: print(line, flush=True))
        print(f"cluster-demo: {tally.line()}")
        for note in tally.notes:
            print(f"cluster-demo: {note}")
        ok = tally.lost == 0 and tally.duplicated == 0 and tally.graded == tally.submitted
        print("cluster-demo: OK: nothing lost, nothing graded twice" if ok
              else "cluster-demo: FAILED")
    except ClusterError as exc:
        print(f"cluster-demo: FAILED: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("cluster-demo: interrupted; namespaces removed", file=sys.stderr)
    finally:
        if args.keep_logs or not ok:
            print(f"cluster-demo: logs in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
