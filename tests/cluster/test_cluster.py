"""The grader as several hosts: Redis, the web and three workers, each in a network namespace
of its own joined by a bridge, so every hop crosses a network interface (see
:mod:`tests.cluster.scenario` for what happens). Needs root, like the sandbox tests; CI runs as
root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster import netns
from tests.cluster.cluster import Cluster
from tests.cluster.scenario import run

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    problem = netns.available()
    if problem:
        pytest.skip(f"the cluster test {problem}")
    return Cluster(tmp_path / "cluster")


def test_a_node_killed_mid_grade_loses_nothing_and_grades_nothing_twice(
    cluster: Cluster,
) -> None:
    lines: list[str] = []
    with cluster:
        try:
            tally = run(cluster, say=lines.append)
        finally:
            print("\n".join(lines))
            print(f"logs: {cluster.tmp}")
            for service in cluster.services.values():
                if not service.alive() and service.name != "worker-cpu":
                    print(f"--- {service.name} exited early:\n{service.output()}")
    print(f"cluster tally: {tally.line()}")
    assert tally.submitted == 8
    assert tally.lost == 0
    assert tally.duplicated == 0, tally.notes
    assert tally.graded == tally.submitted and tally.failed == 0
    assert tally.interrupted == 1
    assert tally.killed_processes >= 3  # Celery main, its pool process, the sandbox zygote
    assert tally.graded_by["worker-late"] >= 1
    assert tally.graded_by["worker-gpu"] == 3
    # The namespaces are gone.
    assert not [p for p in Path("/run/netns").glob(f"{cluster.network.tag}*")]


def test_the_namespaces_go_even_when_the_scenario_fails(tmp_path: Path) -> None:
    problem = netns.available()
    if problem:
        pytest.skip(f"the cluster test {problem}")
    cluster = Cluster(tmp_path / "cluster")
    with pytest.raises(RuntimeError, match="boom"), cluster:
        cluster.start_redis()
        assert cluster.store.ping()
        raise RuntimeError("boom")
    assert not [p for p in Path("/run/netns").glob(f"{cluster.network.tag}*")]
    assert not cluster.services["redis"].alive()
