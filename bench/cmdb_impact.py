"""CMDB impact analysis on PostgreSQL: the recursive CTE against loading the graph into Python.

For each scale (1k, 10k, 100k CIs; three dependencies per CI) the script builds a seeded synthetic
CMDB with COPY, runs VACUUM ANALYZE, and times for three designated CIs:

* ``cmdb.affected_users(ci)`` and ``cmdb.impact(ci)`` (the product's recursive CTE), and
* the same answers computed the other way: fetch every dependency edge, walk the graph in Python
  (BFS), then one query for the reached CIs' rows, and
* the BFS alone on a graph already held in memory (no database at all), as a lower bound for any
  design that caches the graph in the process.

Every answer is checked against the others and against the generator's own count.

The designated CIs:

* ``tenth``: dependents = 10% of the CMDB (100 / 1,000 / 10,000): the issue's question, scaled.
* ``hundred``: exactly 100 dependents at every scale: shows what CMDB size alone costs.
* ``core``: the first CI of the "infrastructure" tier, which nearly everything else reaches (a
  core network outage): the worst case.

Graph shape (seeded, reproducible): CIs are laid out in tiers; a consumer depends mostly on CIs of
a lower tier (applications on databases on servers on the network), and 2% of the choices ignore
the tiering, which makes cycles. ``tenth`` and ``hundred`` each head a region whose members depend
on a lower member of the same region (so the whole region reaches them), on an occasional member
further up (cycles, including one through the designated CI itself) and on shared infrastructure;
nothing outside a region depends on it, so its dependents are exactly the region.

Run: ``.venv/bin/python bench/cmdb_impact.py`` (see bench/README.md for options).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import benchlib

SEED = 20_240_601
DEPS_PER_CI = 3
TENTH = 0.10
HUNDRED = 100
CYCLE_SHARE = 0.02  # share of provider choices that ignore the tiers (and so can close a cycle)

KINDS = [  # kind, name prefix, weight
    ("application", "app", 35),
    ("server", "srv", 25),
    ("database", "db", 15),
    ("network", "net", 10),
    ("business_service", "svc", 10),
    ("saas_dependency", "saas", 5),
]


# --- The synthetic CMDB ---------------------------------------------------------------------------


@dataclass
class Graph:
    n: int
    ids: list[int]  # logical index -> database id (a seeded permutation: no id locality)
    kinds: list[str]
    names: list[str]
    user_counts: list[int]
    edges: list[tuple[int, int]]  # (consumer, provider) by logical index
    targets: dict[str, int] = field(default_factory=dict)  # label -> logical index


def _user_count(rng: random.Random, kind: str) -> int:
    if kind == "business_service":
        return rng.randint(500, 20_000)
    if kind == "application":
        return rng.randint(0, 2_000)
    return 0 if rng.random() < 0.6 else rng.randint(1, 200)


def build_graph(n: int, *, seed: int = SEED) -> Graph:
    rng = random.Random(f"{seed}:{n}")
    tenth = max(1, round(n * TENTH))
    regions = [(0, tenth + 1), (tenth + 1, tenth + 1 + HUNDRED + 1)]  # [start, end) per region
    infra = regions[-1][1]  # everything from here on: the rest of the CMDB
    if n - infra < 50:
        raise SystemExit(f"{n} CIs is too few for a region of {tenth} dependents")

    edges: list[tuple[int, int]] = []
    for consumer in range(n):
        providers: set[int] = set()
        region = next(((s, e) for s, e in regions if s <= consumer < e), None)
        if region is None:
            while len(providers) < DEPS_PER_CI:
                lower = consumer - infra >= DEPS_PER_CI and rng.random() >= CYCLE_SHARE
                provider = rng.randrange(infra, consumer if lower else n)
                if provider != consumer:
                    providers.add(provider)
        else:
            start, end = region
            if consumer == start:
                # The designated CI itself depends on a member of its own region: a cycle.
                providers.add(rng.randrange(start + 1, end))
            else:
                providers.add(rng.randrange(start, consumer))  # a path down to the designated CI
                if rng.random() < 0.5:
                    upward = rng.random() < CYCLE_SHARE * 5
                    candidate = rng.randrange(start, end if upward else consumer)
                    if candidate != consumer:
                        providers.add(candidate)
            while len(providers) < DEPS_PER_CI:
                providers.add(rng.randrange(infra, n))  # shared infrastructure
        edges.extend((consumer, provider) for provider in sorted(providers))

    ids = list(range(1, n + 1))
    rng.shuffle(ids)
    weights = [w for _, _, w in KINDS]
    kinds, names, users = [], [], []
    for logical in range(n):
        kind, prefix, _ = rng.choices(KINDS, weights=weights)[0]
        kinds.append(kind)
        names.append(f"{prefix}{ids[logical]:06d}")  # [a-z0-9] only: same order in any collation
        users.append(_user_count(rng, kind))
    graph = Graph(n=n, ids=ids, kinds=kinds, names=names, user_counts=users, edges=edges)
    graph.targets = {"tenth": regions[0][0], "hundred": regions[1][0], "core": infra}
    return graph


def bfs_levels(consumers: dict[int, list[int]], start: int) -> tuple[set[int], int]:
    """Everything reached from ``start`` along provider -> consumer, and how many BFS levels."""
    seen = {start}
    frontier = [start]
    levels = 0
    while frontier:
        following = []
        for node in frontier:
            for nxt in consumers.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    following.append(nxt)
        if following:
            levels += 1
        frontier = following
    return seen, levels


def cyclic_components(n: int, edges: list[tuple[int, int]]) -> tuple[int, int, int]:
    """Strongly connected components with more than one CI: (count, CIs in them, largest)."""
    out: list[list[int]] = [[] for _ in range(n)]
    back: list[list[int]] = [[] for _ in range(n)]
    for consumer, provider in edges:
        out[consumer].append(provider)
        back[provider].append(consumer)
    order: list[int] = []
    visited = [False] * n
    for root in range(n):  # Kosaraju, iteratively: first pass records finishing order
        if visited[root]:
            continue
        visited[root] = True
        stack = [(root, 0)]
        while stack:
            node, i = stack[-1]
            if i < len(out[node]):
                stack[-1] = (node, i + 1)
                nxt = out[node][i]
                if not visited[nxt]:
                    visited[nxt] = True
                    stack.append((nxt, 0))
            else:
                stack.pop()
                order.append(node)
    component = [-1] * n
    sizes: list[int] = []
    for root in reversed(order):
        if component[root] != -1:
            continue
        label = len(sizes)
        component[root] = label
        size, todo = 0, [root]
        while todo:
            node = todo.pop()
            size += 1
            for nxt in back[node]:
                if component[nxt] == -1:
                    component[nxt] = label
                    todo.append(nxt)
        sizes.append(size)
    cyclic = [s for s in sizes if s > 1]
    return len(cyclic), sum(cyclic), max(cyclic, default=0)


def load(graph: Graph) -> float:
    """Replace the CMDB tables' contents with ``graph`` (COPY), then VACUUM ANALYZE them."""
    from django.db import connection

    from incidents.models import CIDependency, ConfigurationItem

    ci, dep = ConfigurationItem._meta.db_table, CIDependency._meta.db_table
    started = time.perf_counter()
    now = datetime.now(UTC)
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cur:
        cur.execute(f"TRUNCATE {dep}, {ci} RESTART IDENTITY CASCADE")
        columns = (
            "id, name, kind, user_count, owner_group, criticality, description, "
            "created_at, updated_at"
        )
        with cur.copy(f"COPY {ci} ({columns}) FROM STDIN") as copy:
            for k in range(graph.n):
                copy.write_row(
                    (graph.ids[k], graph.names[k], graph.kinds[k], graph.user_counts[k],
                     f"team-{k % 40:02d}", 1 + k % 4, "", now, now)
                )  # fmt: skip
        with cur.copy(f"COPY {dep} (consumer_id, provider_id, created_at) FROM STDIN") as copy:
            for consumer, provider in graph.edges:
                copy.write_row((graph.ids[consumer], graph.ids[provider], now))
        for table in (ci, dep):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    with connection.cursor() as cursor:
        # A freshly loaded table has no visibility map: without VACUUM every index-only scan
        # would visit the heap. Production tables get this from autovacuum.
        cursor.execute(f"VACUUM (ANALYZE) {ci}")
        cursor.execute(f"VACUUM (ANALYZE) {dep}")
    return time.perf_counter() - started


# --- The two ways of answering -------------------------------------------------------------------


def _fetch_consumers() -> dict[int, list[int]]:
    from django.db import connection

    from incidents.models import CIDependency

    consumers: dict[int, list[int]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT provider_id, consumer_id FROM {CIDependency._meta.db_table}")
        for provider, consumer in cursor.fetchall():
            consumers[provider].append(consumer)
    return consumers


def python_affected_users(ci_id: int) -> int:
    """Load every edge, BFS in Python, then sum the reached CIs' users in one query."""
    from django.db import connection

    from incidents.models import ConfigurationItem

    reached, _ = bfs_levels(_fetch_consumers(), ci_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(user_count), 0) FROM {ConfigurationItem._meta.db_table} "
            "WHERE id = ANY(%s)",
            [list(reached)],
        )
        return int(cursor.fetchone()[0])


def python_impact(ci_id: int) -> Any:
    """Load every edge, BFS in Python, then fetch the reached CIs and sort them like the CTE."""
    from django.db import connection

    from incidents.models import ConfigurationItem
    from incidents.selectors.cmdb import AffectedCI, Impact

    reached, _ = bfs_levels(_fetch_consumers(), ci_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, name, kind, user_count FROM {ConfigurationItem._meta.db_table} "
            "WHERE id = ANY(%s)",
            [list(reached)],
        )
        rows = [AffectedCI(*row) for row in cursor.fetchall()]
    rows.sort(key=lambda r: (r.id != ci_id, r.name))
    return Impact(
        affected_users=sum(r.user_count for r in rows),
        affected_cis=rows,
        affected_ci_count=len(rows),
    )


def time_it(fn: Callable[[], Any], *, runs: int, warmup: int) -> tuple[dict[str, float], Any]:
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return benchlib.summarize(samples), result


# --- EXPLAIN --------------------------------------------------------------------------------------


def explain(call: Callable[[], Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of exactly the SQL that ``call`` runs (its last query)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        call()
    sql = queries.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"{sql.strip()}\n\n{plan}"


def plan_summary(plan: str) -> dict[str, str]:
    """The few lines of a plan worth a table: time, buffers, recursion steps, scans."""
    summary: dict[str, str] = {}
    scans: list[str] = []
    heap: list[str] = []
    body = plan.split("\n\n", 1)[1].splitlines()
    for line in body:
        text = line.strip().removeprefix("-> ").strip()
        if text.startswith(("Execution Time", "Planning Time")):
            key, value = text.split(":", 1)
            summary[key] = value.strip()
        elif text.startswith("WorkTable Scan") and "loops=" in text:
            summary["recursion steps"] = text.rsplit("loops=", 1)[1].rstrip(")")
        elif " Scan " in f" {text}" and " on " in text and "WorkTable" not in text:
            scans.append(text.split("  (")[0])
        elif text.startswith("Heap Fetches"):
            heap.append(text.split(":")[1].strip())
    summary["scans"] = "; ".join(scans)
    summary["heap fetches"] = "; ".join(heap)
    for line in body[:4]:
        if line.strip().startswith("Buffers:"):
            summary["buffers (whole query)"] = line.strip().removeprefix("Buffers: ")
            break
    return summary


# --- Main -----------------------------------------------------------------------------------------


def run_scale(n: int, args: argparse.Namespace) -> dict[str, Any]:
    from incidents.selectors import cmdb

    graph = build_graph(n, seed=args.seed)
    cycles = cyclic_components(n, graph.edges)
    load_seconds = load(graph)
    load_before = benchlib.loadavg()
    meter = benchlib.CpuMeter(lambda: {os.getpid()} | benchlib.postgres_backends())
    meter.start()
    logical_consumers: dict[int, list[int]] = defaultdict(list)
    for consumer, provider in graph.edges:
        logical_consumers[provider].append(consumer)
    cached = _fetch_consumers()  # the whole graph in memory, for the "cached graph" lower bound
    cached_users = dict(zip(graph.ids, graph.user_counts, strict=True))

    print(
        f"\n== {n:,} CIs, {len(graph.edges):,} dependencies: loaded in {load_seconds:.1f} s; "
        f"{cycles[0]} cyclic components holding {cycles[1]:,} CIs (largest {cycles[2]:,})",
        flush=True,
    )
    result: dict[str, Any] = {
        "cis": n,
        "dependencies": len(graph.edges),
        "load_seconds": load_seconds,
        "cyclic_components": cycles[0],
        "cis_in_cycles": cycles[1],
        "largest_cycle_component": cycles[2],
        "targets": {},
        "loadavg_before": load_before,
    }
    for label, logical in graph.targets.items():
        if args.targets and label not in args.targets:
            continue
        ci_id = graph.ids[logical]
        reached, levels = bfs_levels(logical_consumers, logical)
        expected_users = sum(graph.user_counts[k] for k in reached)
        dependents = len(reached) - 1

        def cached_bfs(ci_id: int = ci_id) -> int:
            seen, _ = bfs_levels(cached, ci_id)
            return sum(cached_users[i] for i in seen)

        runs, warmup = args.runs, args.warmup
        sql_users, a = time_it(
            lambda ci_id=ci_id: cmdb.affected_users(ci_id), runs=runs, warmup=warmup
        )
        py_users, b = time_it(
            lambda ci_id=ci_id: python_affected_users(ci_id), runs=runs, warmup=warmup
        )
        mem_users, c = time_it(cached_bfs, runs=runs, warmup=warmup)
        assert a == b == c == expected_users, (label, a, b, c, expected_users)
        sql_impact, x = time_it(lambda ci_id=ci_id: cmdb.impact(ci_id), runs=runs, warmup=warmup)
        py_impact, y = time_it(lambda ci_id=ci_id: python_impact(ci_id), runs=runs, warmup=warmup)
        assert x == y, label
        assert x.affected_users == expected_users and len(x.affected_cis) == dependents + 1, label
        assert x.affected_cis[0].id == ci_id, label
        row = {
            "ci_id": ci_id,
            "dependents": dependents,
            "affected_users": expected_users,
            "bfs_levels": levels,
            "sql_affected_users": sql_users,
            "python_affected_users": py_users,
            "python_bfs_cached_graph": mem_users,
            "sql_impact": sql_impact,
            "python_impact": py_impact,
        }
        result["targets"][label] = row
        print(
            f"  {label:8} CI {ci_id}: {dependents:,} dependents, {levels} levels, "
            f"{expected_users:,} users | affected_users SQL {benchlib.ms(sql_users['median'])} ms "
            f"(p95 {benchlib.ms(sql_users['p95'])}) vs Python {benchlib.ms(py_users['median'])} ms "
            f"= x{py_users['median'] / sql_users['median']:.1f} | impact SQL "
            f"{benchlib.ms(sql_impact['median'])} ms vs Python "
            f"{benchlib.ms(py_impact['median'])} ms | BFS on cached graph "
            f"{benchlib.ms(mem_users['median'])} ms",
            flush=True,
        )
        if args.explain and n == max(args.scales):
            for name, call in (
                ("affected_users", lambda ci_id=ci_id: cmdb.affected_users(ci_id)),
                ("impact", lambda ci_id=ci_id: cmdb.impact(ci_id)),
            ):
                plan = explain(call)
                row[f"explain_{name}"] = plan
                row[f"explain_{name}_summary"] = plan_summary(plan)
    result["loadavg_after"] = benchlib.loadavg()
    result["cpu"] = meter.stop()
    print(
        f"  1-minute load average {load_before:.2f} before, {result['loadavg_after']:.2f} after; "
        f"CPU cores used by this benchmark {result['cpu']['ours_cores']:.2f}, "
        f"by other work {result['cpu']['others_cores']:.2f}"
    )
    return result


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    def cell(stats: dict[str, float]) -> str:
        return f"{benchlib.ms(stats['median'])} / {benchlib.ms(stats['p95'])}"

    box = meta["machine"]
    out = [
        f"Measured {meta['date']} on {box['cpus']} CPUs ({box['cpu_model']}), {box['memory']} RAM, "
        f"PostgreSQL {meta['postgres']}; seed {meta['seed']}, {meta['runs']} timed runs after "
        f"{meta['warmup']} warm-up runs; times in ms, median / p95.",
        "",
        "CMDBs:",
        "",
        benchlib.markdown_table(
            [
                "CIs",
                "dependencies",
                "load (COPY + VACUUM ANALYZE)",
                "cyclic components",
                "CIs in cycles",
                "CPU cores used: this benchmark / other work",
            ],
            [
                [
                    f"{r['cis']:,}",
                    f"{r['dependencies']:,}",
                    f"{r['load_seconds']:.1f} s",
                    r["cyclic_components"],
                    f"{r['cis_in_cycles']:,}",
                    f"{r['cpu']['ours_cores']:.2f} / {r['cpu']['others_cores']:.2f}",
                ]
                for r in results
            ],
        ),
        "",
        "`cmdb.affected_users(ci)`:",
        "",
    ]
    rows, impact_rows = [], []
    for r in results:
        for label, t in r["targets"].items():
            head = [f"{r['cis']:,}", label, f"{t['dependents']:,}", t["bfs_levels"]]
            sql, py = t["sql_affected_users"], t["python_affected_users"]
            rows.append(
                [*head, cell(sql), cell(py), f"{py['median'] / sql['median']:.1f}x",
                 cell(t["python_bfs_cached_graph"])]
            )  # fmt: skip
            sql, py = t["sql_impact"], t["python_impact"]
            impact_rows.append([*head, cell(sql), cell(py), f"{py['median'] / sql['median']:.1f}x"])
    head = ["CIs", "CI", "dependents", "BFS levels"]
    out.append(
        benchlib.markdown_table(
            [
                *head,
                "SQL CTE",
                "Python: load edges + BFS",
                "Python / SQL",
                "BFS only, graph cached in memory",
            ],
            rows,
        )
    )
    out += ["", "`cmdb.impact(ci)` (the list of affected CIs, sorted):", ""]
    out.append(
        benchlib.markdown_table(
            [*head, "SQL CTE", "Python: load edges + BFS + fetch rows", "Python / SQL"], impact_rows
        )
    )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scales",
        default="1000,10000,100000",
        help="comma-separated CI counts (default: %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measure (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--targets", default="", help="only these CIs: tenth,hundred,core")
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--json", help="also write every figure (and the plans) to this file")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the 1-minute load to drop below 0.5",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the benchmark database behind for inspection"
    )
    args = parser.parse_args()
    args.scales = sorted(int(s) for s in args.scales.split(","))
    args.targets = {t for t in args.targets.split(",") if t}

    url = benchlib.database_url("mimdesk_bench_cmdb")
    benchlib.fresh_django_database(url)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": benchlib.machine(),
        "postgres": benchlib.postgres_version(),
        "seed": args.seed,
        "runs": args.runs,
        "warmup": args.warmup,
    }
    benchlib.wait_for_quiet(args.wait_quiet)
    try:
        results = [run_scale(n, args) for n in args.scales]
        print("\n" + report(results, meta))
        for r in results:
            for label, t in r["targets"].items():
                for name_ in ("affected_users", "impact"):
                    if f"explain_{name_}" in t:
                        title = f"cmdb.{name_}, {r['cis']:,} CIs, {label}"
                        print(f"\n-- EXPLAIN (ANALYZE, BUFFERS) {title}")
                        print(json.dumps(t[f"explain_{name_}_summary"], indent=2))
                        print(t[f"explain_{name_}"])
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"meta": meta, "results": results}, fh, indent=2)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
