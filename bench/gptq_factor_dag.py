#!/usr/bin/env python3
"""A MODEL, not a measurement: the 2-core time of the tiled GPTQ factorization
(src/quant/gptq_factor.c) from its task graph, for a machine where the second core is free.

Every task of the graph (the same tasks and OpenMP dependencies as the C code: Cholesky, then
the inverse after its parallel region ends, then the tile transposes) costs its flop count
divided by one rate, fitted so that the 1-thread time equals a measured 1-thread time
(default: down_proj, n = 18944, 99.63 s, bench/results/gptq_dream7b_synthetic.txt); the
graph is list-scheduled on P workers, ready tasks taken in creation order (what libgomp does,
roughly).  What it ignores: the two cores' contention for memory bandwidth and cache,
per-task overheads.  So it is an upper bound on the tiled path's parallel gain, and says
whether the graph has enough parallelism; only a measurement on free cores says more.

Usage: python3 bench/gptq_factor_dag.py [--n 18944] [--nb 512] [--t1 99.63] [--workers 2]
"""
import argparse
import heapq


def graph(n, nb):
    """Tasks (flops, deps) in creation order, deps as (token, mode) with mode in/out."""
    T = (n + nb - 1) // nb
    w = [min(nb, n - i * nb) for i in range(T)]
    t0 = [i * nb for i in range(T)]
    phases = []
    chol = []
    for K in range(T):
        kb, r0 = w[K], t0[K] + w[K]
        chol.append((kb ** 3 / 3, [(("u", K, K), "out")]))
        for J in range(K + 1, T):
            chol.append((kb * kb * w[J], [(("u", K, K), "in"), (("u", K, J), "out")]))
        for J in range(K + 1, T):
            f = 2.0 * kb * w[J] * max(0, t0[J] - r0) + kb * w[J] * w[J]
            deps = [(("u", K, i), "in") for i in range(K + 1, J + 1)]
            deps += [(("u", i, J), "out") for i in range(K + 1, J + 1)]
            chol.append((f, deps))
    phases.append(chol)
    inv = []
    for I in range(T - 1, -1, -1):
        ib, c0 = w[I], t0[I] + w[I]
        inv.append((ib ** 3 / 3, [(("u", I, I), "out")]))
        for J in range(T - 1, I, -1):
            f = ib * w[J] * w[J] + 2.0 * ib * w[J] * max(0, t0[J] - c0) + ib * ib * w[J]
            deps = [(("u", I, I), "in"), (("u", J, J), "in")]
            deps += [(("l", J, k), "in") for k in range(I + 1, J)]
            deps += [(("l", J, I), "out")]
            inv.append((f, deps))
    phases.append(inv)
    return phases


def schedule(tasks, workers, rate):
    """List scheduling; returns the makespan of one parallel region (seconds)."""
    last_writer, readers = {}, {}
    preds = []
    for i, (_, deps) in enumerate(tasks):
        p = set()
        for tok, mode in deps:
            if tok in last_writer:
                p.add(last_writer[tok])
            if mode == "out":
                p.update(readers.get(tok, ()))
                last_writer[tok] = i
                readers[tok] = []
            else:
                readers.setdefault(tok, []).append(i)
        preds.append(p)
    succ = [[] for _ in tasks]
    left = [len(p) for p in preds]
    for i, p in enumerate(preds):
        for j in p:
            succ[j].append(i)
    ready = [i for i in range(len(tasks)) if left[i] == 0]
    heapq.heapify(ready)
    running, now, free = [], 0.0, workers
    done = 0
    while done < len(tasks):
        while free and ready:
            i = heapq.heappop(ready)
            heapq.heappush(running, (now + tasks[i][0] / rate, i))
            free -= 1
        now, i = heapq.heappop(running)
        free += 1
        done += 1
        for j in succ[i]:
            left[j] -= 1
            if left[j] == 0:
                heapq.heappush(ready, j)
    return now


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=18944)
    ap.add_argument("--nb", type=int, default=512)
    ap.add_argument("--t1", type=float, default=99.63, help="measured 1-thread seconds")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    phases = graph(a.n, a.nb)
    flops = sum(f for ph in phases for f, _ in ph)
    rate = flops / a.t1
    t = sum(schedule(ph, a.workers, rate) for ph in phases)
    ntask = sum(len(ph) for ph in phases)
    print(f"n {a.n} tile {a.nb}: {ntask} tasks, {flops / 1e9:.0f} GFLOP, rate {rate / 1e9:.1f} GF/s "
          f"(1 thread {a.t1:.2f} s)")
    print(f"MODEL, {a.workers} free workers: {t:.2f} s = {a.t1 / t:.2f}x the 1-thread time "
          f"(ideal {a.workers}x)")


if __name__ == "__main__":
    main()
