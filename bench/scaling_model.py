#!/usr/bin/env python3
"""Wall-time model of an aq-mpi job beyond one machine (docs/SCALING.md).

Parameters are measured on this machine (bench/results/*.json) or given on the command
line for a target cluster; the model is checked against the measured 1-2 rank points and
then predicts 8..512 ranks for a model of W weights.

  T(P) = T_fixed + T_par(P) + T_write                          P = 1 (rank 0 writes in line)
  T(P) = T_fixed + max(T_par(P), T_ser) + T_fill(P)            P >= 2 (streamed to rank 0)

  T_par(P) = max(W / P, W_unit) / (t * c)  +  max(B_in / P, B_unit) / r_read(P)
  r_read(P) = min(r_rank, R_fs / min(P, units))     (per-rank share of the file system)
  T_ser    = B_out / min(G, w0)                     (rank 0 ingests and writes everything)
  T_fill(P) = T_par(P) / n_units_per_rank           (the last unit cannot overlap)

c: quantize rate per thread (weights/s, bf16 in), t threads per rank, r_rank: read bandwidth
of one rank, R_fs: aggregate file-system bandwidth, G: gather bandwidth into rank 0,
w0: rank 0's HDF5 (+zstd) write rate, W_unit / B_unit: the largest plan unit (a transformer
block or the embedding / lm_head tensor).
"""
import argparse
import json
import os


def load_lines(p):
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []


def model_T(P, W, B_in, B_out, W_unit, B_unit, n_units, c, t, r_rank, R_fs, G, w0, T_fixed):
    r_read = min(r_rank, R_fs / min(P, n_units))  # only ranks that own units read
    T_par = max(W / P, W_unit) / (t * c) + max(B_in / P, B_unit) / r_read
    if P == 1:
        return T_fixed + T_par + B_out / w0, T_par, B_out / w0
    T_ser = B_out / min(G, w0)
    per_rank = max(1.0, n_units / P)
    return T_fixed + max(T_par, T_ser) + T_par / per_rank, T_par, T_ser


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--weights", type=float, default=7.62e9, help="W (dream-7b: 7.62e9)")
    ap.add_argument("--bits-per-weight", type=float, default=3.0, help="output b/w (INT2 g32: 3.0)")
    ap.add_argument("--units", type=int, default=31, help="plan units (dream-7b: 28 blocks + 3)")
    ap.add_argument("--largest-unit", type=float, default=0.545e9, help="weights of the largest unit")
    ap.add_argument("--rate", type=float, default=0, help="c, weights/s/thread (default: measured mse 2-bit g32)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--r-rank", type=float, default=2.0e9, help="read B/s per rank from the FS")
    ap.add_argument("--r-fs", type=float, default=50e9, help="aggregate FS read B/s")
    ap.add_argument("--gather", type=float, default=10e9, help="G: rank-0 ingress B/s (NIC)")
    ap.add_argument("--w0", type=float, default=0, help="rank-0 write B/s (default: measured)")
    ap.add_argument("--row-sharded", action="store_true",
                    help="issue 16: units above a fair share cut into tensors and row blocks "
                         "(balance from --imbalance) and ranks filter their own chunks (rank 0 "
                         "only stores compressed chunks at --w0-store)")
    ap.add_argument("--imbalance",
                    default="8:1.001,16:1.001,24:1.002,32:1.002,64:1.004,128:1.011,256:1.018,512:1.049",
                    help="P:max/mean of the row-sharded plan per rank count (bench/plan_balance.py "
                         "on jobs/dream7b_int2.ini; 2-D passthrough tensors count as work, docs/SCALING.md "
                         "5c; the contiguous cut of aq_plan_split, docs/SCALING.md 5e; before it: "
                         "8:1.062,64:1.152,256:1.141,512:1.172)")
    ap.add_argument("--w0-store", type=float, default=2.1e9,
                    help="rank 0's store rate of filtered chunks (H5Dwrite_chunk + flush), B/s "
                         "(2.1e9: Dream-7B shapes, jobs/int2_compact.ini, -n 2, 3.56 GB in 1.45-1.66 s, "
                         "bench/results/dream7b_int2.md run 7; the medium preset's small tensors gave "
                         "0.58e9, docs/SCALING.md 5b)")
    ap.add_argument("--t-fixed", type=float, default=1.0,
                    help="T_fixed: plan, model open, file create, final metadata (s)")
    ap.add_argument("--passthrough", choices=("owner", "rank0"), default="owner",
                    help="owner (issue 16, this branch): the 2-D passthrough tensors are plan work, "
                         "filtered on the ranks that own their row blocks, rank 0 stores their "
                         "chunks; rank0 (before): rank 0 filters and stores them itself")
    ap.add_argument("--pass-bytes", type=float, default=2.18e9,
                    help="B_pass: bytes of 2-D passthrough tensors (Dream-7B, quant.embeddings=false: "
                         "embedding + lm_head, 2 x 152064 x 3584 bf16); their weights are not quantized")
    ap.add_argument("--pass-rate", type=float, default=0.36e9,
                    help="filter rate of passthrough bytes per rank, B/s (zstd + Fletcher32; 0.36e9: "
                         "medium preset, -n 1, this machine, docs/SCALING.md 5b)")
    ap.add_argument("--pass-ratio", type=float, default=0.784,
                    help="stored / raw bytes of filtered bf16 passthrough chunks (0.784: medium preset, "
                         "embedding and lm_head, zstd level 3)")
    ap.add_argument("--gptq-layer-s", type=float, default=0.0,
                    help="GPTQ: seconds per transformer block on one rank (105.4: "
                         "bench/results/gptq_dream7b_synthetic.txt, 2 threads, factor + update of "
                         "qkv, o, gateup, down); GPTQ plans whole units (no row-sharding)")
    ap.add_argument("--gptq-largest-s", type=float, default=0.0,
                    help="GPTQ with tensor items (issue 16: large units split into one item per "
                         "tensor, each whole): seconds of the largest tensor (down_proj: factor + "
                         "update); 0: whole units, as before")
    ap.add_argument("--gptq-busiest", default="",
                    help="GPTQ: P:seconds of the busiest rank's GPTQ work in the job's own plan "
                         "(bench/plan_balance.py --gptq: the plan's items and owners, each costed "
                         "with the measured per-shape seconds); replaces max(largest, balance x "
                         "total / P) of --gptq-largest-s")
    ap.add_argument("--layers", type=int, default=28, help="transformer blocks (GPTQ units)")
    ap.add_argument("--digest-files", default="4.878,4.797,4.467,1.090",
                    help="GB of each model file whose SHA-256 goes into /source (Dream-7B's four "
                         "shards); largest first, round-robin over the ranks, each rank hashing "
                         "right after its own loop (the least loaded finish first)")
    ap.add_argument("--digest-rate", type=float, default=1.25e9,
                    help="SHA-256 B/s per rank (1.25e9: the busier rank hashed 9.35 GB in 7.49 s, Dream-7B -n 2, "
                         "this machine, bench/results/dream7b_int2.md run 7); 0: leave the digests out")
    a = ap.parse_args()
    R = a.results
    scal = load_lines(f"{R}/scaling.jsonl")
    mem = load_lines(f"{R}/memory.jsonl")
    qual = json.load(open(f"{R}/quality.json")) if os.path.exists(f"{R}/quality.json") else None

    # ---- calibration on this machine: the in-memory scaling runs (no file system, no write)
    s11 = [s for s in scal if s["mode"] == "strong" and s["ranks"] == 1 and s["threads"] == 1]
    s21 = [s for s in scal if s["mode"] == "strong" and s["ranks"] == 2 and s["threads"] == 1
           and s.get("gather") != "bulk"]
    bulk = [s for s in scal if s["ranks"] == 2 and s.get("gather") == "bulk"]
    print("# calibration on this machine (in-memory model: no read, no write)")
    if s11:
        s = s11[0]
        c = s["mweights"] * 1e6 / s["quantize_s"]
        print(f"c (rtn 4-bit g128, bf16 in, 1 thread) = {c/1e9:.2f} Gweights/s")
        if s21:
            g = s21[0]
            G = 10e9
            if bulk:  # one Gatherv after the computation: rank 1 sends half the bytes
                G = (bulk[0]["gather_bytes"] / 2) / bulk[0]["gather_s"]
                print(f"G (bulk gather into rank 0, shared memory) = {G/1e9:.2f} GB/s")
            for P, meas in ((1, s), (2, g)):
                W = meas["mweights"] * 1e6
                Bo = meas["gather_bytes"]
                # streamed: only the last tensor's transfer is not hidden
                pred = W / P / c + (Bo / meas["tensors"] / G if P == 2 else 0.0)
                print(f"  P={P} (streamed): predicted {pred:.3f} s, measured {meas['seconds']:.3f} s "
                      f"({100*(pred/meas['seconds']-1):+.0f} %)")
    # ---- the real job (memory runs: read from page cache, HDF5 write on rank 0)
    m1 = sorted([m for m in mem if m["ranks"] == 1], key=lambda x: x["model_bytes"])
    m2 = sorted([m for m in mem if m["ranks"] == 2], key=lambda x: x["model_bytes"])
    w0 = a.w0
    if m1 and s11:
        m = m1[-1]
        W = m["model_bytes"] / 2
        B_out = W * 4.5 / 8  # 4-bit g64 f16 scale/min
        r_page = m["read_gbps_per_thread"] * 1e9
        T_par = W / c + m["model_bytes"] / r_page
        rest = m["seconds"] - T_par
        if not w0:
            w0 = B_out / rest if rest > 0 else 1e9
        print(f"\n# real job, {m['model_bytes']/1e9:.2f} GB model, 4-bit rtn: 1 rank {m['seconds']:.2f} s "
              f"= compute+read {T_par:.2f} s + write/serial {rest:.2f} s -> w0 = {w0/1e9:.2f} GB/s "
              f"(rank-0 HDF5 + zstd + checksums)")
        for mm in m2:
            if abs(mm["model_bytes"] - m["model_bytes"]) > 1:
                continue
            Wm = mm["model_bytes"] / 2
            pred, tp, ts = model_T(2, Wm, mm["model_bytes"], Wm * 4.5 / 8, 0, 0, 8, c, 1,
                                   r_page, 1e12, G if s11 and s21 else 1e10, w0, 0.0)
            print(f"  check P=2: predicted {pred:.2f} s (T_par {tp:.2f}, T_ser {ts:.2f}), "
                  f"measured {mm['seconds']:.2f} s ({100*(pred/mm['seconds']-1):+.0f} %)")
    if not w0:
        w0 = 0.15e9
    # ---- projection
    rate = a.rate
    if not rate and qual:
        r = [x for x in qual["results"] if x["bits"] == 2 and x["method"] == "mse" and x["group_size"] == 32]
        rate = r[0]["mweights_per_s_per_thread"] * 1e6 if r else 100e6
    rate = rate or 100e6
    W = a.weights
    B_in = 2 * W
    B_out = W * a.bits_per_weight / 8
    W_unit = a.largest_unit
    print(f"\n# projection: W = {W/1e9:.2f} G weights ({B_in/1e9:.1f} GB bf16), out {B_out/1e9:.2f} GB, "
          f"c = {rate/1e6:.0f} Mweights/s/thread x {a.threads} threads, r_rank {a.r_rank/1e9:.1f} GB/s, "
          f"R_fs {a.r_fs/1e9:.0f} GB/s, G {a.gather/1e9:.0f} GB/s, w0 {w0/1e9:.2f} GB/s, "
          f"largest unit {W_unit/1e9:.2f} G weights, {a.units} units")
    if a.row_sharded:
        sharded_projection(a, W, B_in, B_out, rate)
        return
    print("| ranks | T_par s | T_ser s | predicted wall s | speed-up vs 8 | limited by |")
    print("|---|---|---|---|---|---|")
    base = None
    for P in (1, 2, 8, 16, 32, 64, 128, 256, 512):
        T, tp, ts = model_T(P, W, B_in, B_out, W_unit, 2 * W_unit, a.units, rate, a.threads,
                            a.r_rank, a.r_fs, a.gather, w0, 1.0)
        if P == 8:
            base = T
        lim = "compute+read" if tp >= ts else ("rank-0 write" if w0 < a.gather else "gather")
        if P > 1 and W / P < W_unit and tp >= ts:
            lim = "largest unit"
        sp = f"{base / T:.2f}x" if base else ""
        print(f"| {P} | {tp:.1f} | {ts:.1f} | {T:.1f} | {sp} | {lim} |")
    # crossover
    Pstar = (W / (a.threads * rate) + B_in / a.r_rank) / (B_out / min(a.gather, w0))
    print(f"\ngather/write to rank 0 stops scaling at P* = (W/(t c) + B_in/r_rank) / (B_out/min(G, w0)) "
          f"= {Pstar:.1f} ranks")
    Ppar = (W / (a.threads * rate) + B_in / a.r_rank) / (B_out / min(a.gather, 1e12))
    print(f"with parallel HDF5 (each rank writes its hyperslabs, w0 no longer serial) and rank-0 "
          f"ingress gone: bounded by the largest unit at P = W / W_unit = {W / W_unit:.0f} ranks "
          f"unless large tensors are split by rows (then by R_fs: P = R_fs / r_rank = "
          f"{a.r_fs / a.r_rank:.0f})")
    _ = Ppar


def digest_s(a, P):
    """Seconds of the /source SHA-256 digests at P ranks: largest file first, round-robin over
    the ranks, so the busiest rank's files; SHA-256 of one file is sequential, so from P = files
    on it is the largest."""
    if not a.digest_rate:
        return 0.0
    sizes = sorted((float(x) * 1e9 for x in a.digest_files.split(",") if x), reverse=True)
    per = [0.0] * min(P, len(sizes))
    for i, b in enumerate(sizes):
        per[i % P] += b
    return max(per) / a.digest_rate


def sharded_projection(a, W, B_in, B_out, rate):
    """Row-sharded plan (issue 16).  Per-rank work = imb(P) x (work / P) with imb(P) the plan's
    measured balance max/mean of rank bytes (bench/plan_balance.py: the real planner on a
    Dream-7B-shaped header).  Rank 0's serial part is storing every filtered chunk
    ((B_out + ratio B_pass) / min(G, w0_store)); with --passthrough rank0 it also filters the
    passthrough tensors itself (B_pass / pass_rate), with owner that filtering is parallel work.
    The last item's output cannot overlap (fill: its store).  T(1): everything in line on
    rank 0.  With --gptq-layer-s the quantized weights cost that per block instead, and the plan
    keeps whole units (T_par = ceil(layers / P) blocks), or with --gptq-largest-s tensor items
    (T_par = max(largest tensor, imb(P) x total / P): GPTQ tensors stay whole)."""
    t, c = a.threads, rate
    imb = {int(k): float(v) for k, v in (x.split(":") for x in a.imbalance.split(","))}
    busiest = {int(k): float(v) for k, v in (x.split(":") for x in a.gptq_busiest.split(",") if x)}
    if busiest:  # the rank counts measured for GPTQ
        imb = {P: imb.get(P, 1.0) for P in busiest}
    store = min(a.gather, a.w0_store)
    Bp = a.pass_bytes
    Wq = W - Bp / 2  # bf16: the passthrough weights are not quantized
    Bq = Wq * a.bits_per_weight / 8
    t_filter = Bp / a.pass_rate
    t_store = (Bq + a.pass_ratio * Bp) / a.w0_store
    quant1 = a.layers * a.gptq_layer_s if a.gptq_layer_s else Wq / (t * c)
    T1 = a.t_fixed + quant1 + B_in / a.r_rank + t_store + t_filter + digest_s(a, 1)
    print(f"row-sharded: passthrough filtered by {a.passthrough} ({Bp/1e9:.2f} GB at "
          f"{a.pass_rate/1e9:.2f} GB/s, stored {a.pass_ratio:.3f} of it), rank-0 store "
          f"{a.w0_store/1e9:.2f} GB/s, T_fixed {a.t_fixed:.1f} s, "
          + (f"GPTQ {a.gptq_layer_s:.1f} s per block x {a.layers} "
             + ("(the plan's busiest rank from --gptq-busiest), " if busiest
                else f"(tensor items, largest {a.gptq_largest_s:.1f} s), " if a.gptq_largest_s
                else "(whole units), ") if a.gptq_layer_s else "")
          + f"plan balance {a.imbalance}, source digests at {a.digest_rate/1e9:.2f} GB/s per rank "
          f"over files of {a.digest_files} GB; T(1) = {T1:.1f} s")
    print("| ranks | plan max/mean | T_par s | T_ser s | digests s | wall s | speed-up | efficiency "
          "| limited by |")
    print("|---|---|---|---|---|---|---|---|---|")
    for P in sorted(imb):
        r_read = min(a.r_rank, a.r_fs / P)
        read = B_in / P / r_read
        if a.gptq_layer_s and busiest:  # the job's own plan, costed with measured seconds
            T_par = busiest[P] + read
            bal = T_par / (quant1 / P + read)
        elif a.gptq_layer_s and a.gptq_largest_s:  # tensor items: the largest tensor bounds it
            T_par = max(a.gptq_largest_s, imb[P] * quant1 / P) + read
            bal = T_par / (quant1 / P + read)
        elif a.gptq_layer_s:  # whole units: the busiest rank has ceil(layers / P) blocks
            n = -(-a.layers // P)
            r_read = min(a.r_rank, a.r_fs / min(P, a.layers))  # only unit owners read
            T_par = n * a.gptq_layer_s + n * B_in / a.layers / r_read
            bal = n * P / a.layers
        elif a.passthrough == "owner":
            # the plan balances bytes, a passthrough byte weighing as a quantized one: the
            # busiest rank may hold only quantized bytes, (W_q + B_pass / 2) / P weights' worth
            # (filtering is ~10x cheaper per byte, so ranks holding passthrough finish early)
            T_par = imb[P] * ((Wq + Bp / 2) / P / (t * c) + read)
            bal = imb[P]
        else:
            T_par = imb[P] * (Wq / P / (t * c) + read)
            bal = imb[P]
        if a.passthrough == "owner" and a.gptq_layer_s and not (a.gptq_largest_s or busiest):
            # whole units: embedding and lm_head filtered on a rank with blocks
            T_par += t_filter / 2 if P < a.layers + 3 else 0.0  # on a rank with blocks
            T_ser = t_store
        elif a.passthrough == "owner":
            T_ser = t_store
        else:
            T_ser = t_store + t_filter
        fill = imb[P] * (Bq + a.pass_ratio * Bp) / P / 4 / store  # one item stored last
        T_dig = digest_s(a, P)
        # each rank hashes right after its own loop; the ranks that take files are the least
        # loaded, which finish after ~T_par / imbalance (the mean rank) when P >= 2
        dig_end = (T_par / bal if P > 1 else max(T_par, T_ser)) + T_dig
        T = a.t_fixed + max(max(T_par, T_ser) + fill, dig_end)
        lim = "compute+read" if T_par >= T_ser else "rank-0 serial"
        if T_dig > max(T_par, T_ser):
            lim += ", digests"
        print(f"| {P} | {bal:.3f} | {T_par:.2f} | {T_ser:.2f} | {T_dig:.2f} | {T:.2f} | {T1/T:.1f}x "
              f"| {100*T1/(P*T):.0f} % | {lim} |")


if __name__ == "__main__":
    main()
