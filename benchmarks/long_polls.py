"""Many long polls held open at once, and how fast ``/healthz`` answers meanwhile (not a test).

Starts a private ``redis-server`` and the web app under gunicorn exactly as ``grader serve``
does (:func:`grader.processes.web_command`: 2 workers, gevent unless ``--worker-class
gthread``), no grading worker. Accepts ``--polls`` submissions (they stay queued), holds one
``GET /submissions/<id>?wait=S`` open for each from an asyncio client, then:

- asks ``/healthz`` ``--probes`` times while every poll is held: p50, p90, max latency;
- writes every result the way a worker does (:meth:`common.store.Store.finish`): how long
  until each poll has its answer (p50, p99, last);
- the web processes' CPU seconds and threads meanwhile.

    python benchmarks/long_polls.py --polls 1000
    python benchmarks/long_polls.py --polls 1000 --worker-class gthread   # one thread per poll

A worker heartbeat is written by hand so that ``/healthz`` answers 200 as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.protocol import Verdict  # noqa: E402
from common.store import Store  # noqa: E402
from grader.processes import free_port, web_command  # noqa: E402
from grader.tokens import TokenStore  # noqa: E402

CODE = "def add_one(x):\n    return x + 1\n"


async def request(port: int, method: str, path: str, token: str, body: bytes = b"",
                  timeout_s: float = 60) -> tuple[int, dict[str, object]]:
    """One HTTP/1.1 request on its own connection; (status, JSON body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        writer.write(head + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    status = int(status_line.split()[1])
    try:
        return status, json.loads(payload or b"{}")
    except ValueError:
        return status, {}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def cpu_and_threads(pids: list[int]) -> tuple[float, int]:
    """CPU seconds (user + system) and threads of these processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, threads = 0.0, 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        threads += int(fields[17])
    return cpu, threads


def web_pids(master: int) -> list[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return [master]
    return [master, *map(int, children)]


async def measure(port: int, store: Store, token: str, args: argparse.Namespace,
                  master: int) -> None:
    # Accept the submissions (no worker: they stay queued).
    body = json.dumps({"exercise": "add-one", "code": CODE, "learner": "bench"}).encode()
    ids: list[str] = []
    for start in range(0, args.polls, 50):
        answers = await asyncio.gather(*(request(port, "POST", "/api/v1/submissions", token,
                                                 body) for _ in range(start, min(start + 50,
                                                                                 args.polls))))
        for status, answer in answers:
            if status != 202:
                raise SystemExit(f"POST answered {status}: {answer}")
            ids.append(str(answer["id"]))
    cpu_before, _ = cpu_and_threads(web_pids(master))
    returned: dict[str, tuple[float, int, str]] = {}

    async def poll(submission_id: str) -> None:
        status, answer = await request(port, "GET", f"/api/v1/submissions/{submission_id}"
                                       f"?wait={args.wait}", token, timeout_s=args.wait + 60)
        returned[submission_id] = (time.monotonic(), status, str(answer.get("status")))

    opened = time.monotonic()
    tasks = [asyncio.create_task(poll(i)) for i in ids]
    polls_key = store.key("polls", TokenStore(store).lookup_token(token).id)  # type: ignore[union-attr]
    while store.client.zcard(polls_key) < args.polls:
        if time.monotonic() - opened > args.wait - 2:
            held = store.client.zcard(polls_key)
            print(f"only {held} of {args.polls} polls were held after "
                  f"{time.monotonic() - opened:.1f} s")
            break
        await asyncio.sleep(0.05)
    held = int(store.client.zcard(polls_key))
    print(f"{held} long polls held open after {time.monotonic() - opened:.2f} s "
          f"({args.worker_class}, {args.workers} web workers)")
    latencies: list[float] = []
    failures = 0
    for _ in range(args.probes):
        asked = time.monotonic()
        try:
            status, _ = await request(port, "GET", "/healthz", token, timeout_s=args.wait)
        except (TimeoutError, OSError):
            status = 0
        if status != 200:
            failures += 1
        latencies.append(time.monotonic() - asked)
        await asyncio.sleep(0.05)
    cpu_held, threads = cpu_and_threads(web_pids(master))
    early = len(returned)
    print(f"/healthz while {held} polls are held ({args.probes} probes): "
          f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p90 {percentile(latencies, 0.9) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms, not 200: {failures}")
    print(f"web processes: {threads} threads, {cpu_held - cpu_before:.2f} CPU s while "
          f"holding; polls that returned early: {early}")
    written = time.monotonic()
    verdict = Verdict(exercise="add-one", status="passed", score=1.0, max_score=1.0,
                      checks=[])
    pipe_start = time.monotonic()
    for submission_id in ids:
        store.finish(submission_id, "graded", verdict)
    write_s = time.monotonic() - pipe_start
    await asyncio.gather(*tasks)
    waits = [returned[i][0] - written for i in ids]
    graded = sum(1 for i in ids if returned[i][1:] == (200, "graded"))
    cpu_after, _ = cpu_and_threads(web_pids(master))
    print(f"results written in {write_s:.2f} s; polls answered graded: {graded}/{len(ids)}; "
          f"result-to-answer p50 {percentile(waits, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(waits, 0.99) * 1000:.0f} ms, last {max(waits) * 1000:.0f} ms; "
          f"web CPU {cpu_after - cpu_held:.2f} s for the answers")
    clients = store.client.info("clients")
    print(f"Redis connections now: {clients['connected_clients']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--wait", type=float, default=30.0, help="each poll's ?wait=")
    parser.add_argument("--probes", type=int, default=50, help="/healthz requests")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent")
    args = parser.parse_args()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed")
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        redis_port, web_port = free_port(), free_port()
        redis = subprocess.Popen([redis_server, "--bind", "127.0.0.1", "--port",
                                  str(redis_port), "--dir", tmp, "--save", "",
                                  "--appendonly", "no", "--maxclients", "10000"],
                                 stdout=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{redis_port}/0"
        store = Store.from_url(url, "bench")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env.update(GRADER_REDIS_URL=url, GRADER_KEY_PREFIX="bench",
                   GRADER_MODE="development", GRADER_SECRET_KEY="bench",
                   GRADER_EXERCISES_DIR=str(ROOT / "tests" / "service" / "course"),
                   GRADER_MAX_POLLS_PER_TOKEN=str(args.polls + 10),
                   GRADER_MAX_WAIT_S=str(args.wait),
                   GRADER_API_RATE_LIMIT="1000000 per minute",
                   GRADER_SUBMIT_RATE_LIMIT="1000000 per minute")
        web = None
        try:
            deadline = time.monotonic() + 10
            while not store.ping():
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not answer")
                time.sleep(0.05)
            token, _ = TokenStore(store).create_token("instructor", "bench")
            store.beat("bench-worker@here", ["cpu"], os.getpid(), ttl_s=3600)
            web = subprocess.Popen(
                web_command("127.0.0.1", web_port, args.workers,
                            worker_class=args.worker_class,
                            connections=args.polls + 100),
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            deadline = time.monotonic() + 60
            while True:
                try:
                    status = asyncio.run(request(web_port, "GET", "/healthz", token, b"", 2))[0]
                    if status == 200:
                        break
                except (OSError, TimeoutError):
                    pass
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit("the web app did not start")
                time.sleep(0.2)
            asyncio.run(measure(web_port, store, token, args, web.pid))
        finally:
            if web is not None:
                os.killpg(web.pid, signal.SIGTERM)
                web.wait(30)
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
