"""Training buffers from 1,000 SR-v0 traces: how long ``build_all(iter_traces(DIR))`` takes, and how big the traces are.

    python bench/buffers.py [--traces DIR] [--count 1000] [--max-expansions 10] [--jobs 1] [--compare-v1]

First writes ``--count`` traces (BestFS and HTPS alternating, ``--max-expansions`` each, on train-split theorems
in order) into ``--traces`` (default ``/tmp/aitp-bench-buffers``), skipping files already there, so a second run
reuses them (traces written by an older aitp-gym keep their schema version: use a new ``--traces`` folder to
measure the current one). Then it times one pass that only reads the traces, and ``build_all`` over a fresh
``iter_traces`` (reading included), and prints the buffer counts, wall and CPU seconds (CPU time is the steadier
figure on busy shared cores), traces/s, nodes/s, the schema versions read, and the total and mean gzipped size.
``--compare-v1`` also writes each trace in the version-1 form (every node text in full, one dict per node and
edge) beside the folder and times the same build on it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path

from aitp_gym import ProofAttempt, iter_traces
from aitp_gym.agents import buffers as B
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.search import make_planner
from aitp_gym.trace import TraceRecord, atomic_write_text

PLANNERS = ("bestfs", "htps")


def _name(i: int, theorem_id: str) -> str:
    return f"{i:04d}-{PLANNERS[i % 2]}-{theorem_id}.json.gz"


def _write(job: tuple[int, str, int]) -> float:
    """Search theorem ``job[0]`` of the train split with planner ``i % 2`` and write its trace; seconds taken."""
    i, folder, max_expansions = job
    theorems = SRBackend().theorems("train")
    theorem = theorems[i % len(theorems)]
    t0 = time.perf_counter()
    make_planner(PLANNERS[i % 2], max_expansions=max_expansions).search(
        ProofAttempt(SRBackend(), theorem), trace_path=Path(folder) / _name(i, theorem.id))
    return time.perf_counter() - t0


def write_traces(folder: Path, count: int, max_expansions: int, jobs: int) -> None:
    theorems = SRBackend().theorems("train")
    todo = [i for i in range(count) if not (folder / _name(i, theorems[i % len(theorems)].id)).exists()]
    print(f"{count - len(todo)} of {count} traces already in {folder}; writing {len(todo)} "
          f"(max_expansions={max_expansions}, {jobs} process(es))", flush=True)
    if not todo:
        return
    t0 = time.perf_counter()
    jobs_args = [(i, str(folder), max_expansions) for i in todo]
    with multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else _Serial() as pool:
        for done, _ in enumerate(pool.imap_unordered(_write, jobs_args, chunksize=4), 1):
            if done % 50 == 0 or done == len(todo):
                elapsed = time.perf_counter() - t0
                print(f"  {done}/{len(todo)} traces written, {elapsed:.0f} s "
                      f"(~{elapsed / done * (len(todo) - done):.0f} s left)", flush=True)


class _Serial:
    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def imap_unordered(self, fn, items, chunksize=1):
        return map(fn, items)


def v1_dict(record: TraceRecord) -> dict:
    """The record as schema version 1 stored it: one dict per node (full text) and per edge."""
    return {"schema": "aitp-trace", "version": 1, "header": record.header, "nodes": record.nodes,
            "edges": record.edges, "result": record.result, **record.extra}


def sizes(folder: Path) -> tuple[int, int]:
    files = sorted(folder.glob("*.json.gz"))
    return len(files), sum(p.stat().st_size for p in files)


def measure(folder: Path, label: str) -> None:
    n_files, total = sizes(folder)
    t0, c0 = time.perf_counter(), time.process_time()
    traces = nodes = edges = 0
    versions: Counter[int] = Counter()
    for record in iter_traces(folder):
        traces += 1
        nodes += len(record.nodes)
        edges += len(record.edges)
        versions[record.version] += 1
    read, read_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    _, stats = B.build_all(iter_traces(folder))
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"[{label}] {n_files} files, {total / 1024:.0f} KB gzipped in all, {total / 1024 / max(n_files, 1):.1f} KB "
          f"mean; {nodes} nodes, {edges} edges; schema versions {dict(sorted(versions.items()))}")
    print(f"[{label}] read only: {read:.2f} s, {read_cpu:.2f} s CPU ({traces / read:.0f} traces/s, "
          f"{nodes / read:.0f} nodes/s)")
    print(f"[{label}] build_all(iter_traces(DIR)): {build:.2f} s, {build_cpu:.2f} s CPU ({stats.traces / build:.0f} "
          f"traces/s, {nodes / build:.0f} nodes/s); {stats.proved} proved; buffers {stats.counts}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=Path, default=Path("/tmp/aitp-bench-buffers"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--max-expansions", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1, help="processes that write traces (default 1)")
    parser.add_argument("--compare-v1", action="store_true", help="also time the build on version-1 copies")
    args = parser.parse_args()
    if args.count < 1 or args.max_expansions < 1 or args.jobs < 1:
        sys.exit("--count, --max-expansions and --jobs must be positive")
    folder = args.traces
    folder.mkdir(parents=True, exist_ok=True)
    write_traces(folder, args.count, args.max_expansions, args.jobs)
    measure(folder, "traces")
    if args.compare_v1:
        v1 = folder.with_name(folder.name + "-v1")
        n_v1, _ = sizes(v1) if v1.exists() else (0, 0)
        if n_v1 != sizes(folder)[0]:
            print(f"writing version-1 copies into {v1}", flush=True)
            for path in sorted(folder.glob("*.json.gz")):
                (record,) = iter_traces(path)
                atomic_write_text(v1 / path.name, json.dumps(v1_dict(record), ensure_ascii=False))
        measure(v1, "v1")


if __name__ == "__main__":
    main()
