#!/usr/bin/env python3
"""gptq_check.py — checks for tests/integration/gptq_test.sh (quant.gptq, aq-calib --hessian).

  hessian A.h5 B.h5 [head]
                         /hessian of A and B identical (every dataset byte for byte, every
                         attribute); for every layer of A: diag H = sum_t w_t sq_mean[t]
                         of /stats (the same sums, relative 1e-5), H positive semi-definite
                         (smallest eigenvalue >= -1e-5 x largest), exactly the 4 inputs per
                         block of /stats (q, o, gate, down), plus lm_head.weight when "head"
                         is given (an untied head) and without it otherwise.
  attrs R.h5 DAMP BLOCK ACT_ORDER
                         every quantized q/k/v/o/gate/up/down tensor has optimizer = gptq and
                         the gptq_* attributes given; every other quantized tensor has none.
  drop A.h5 OUT.h5 LAYER copy of A without /hessian/LAYER (a missing-layer input).
  poke A.h5 OUT.h5 LAYER I V
                         copy of A with packed element I of /hessian/LAYER set to V (I = 0:
                         H[0, 0], a negative diagonal for V < 0; I = 1: H[0, 1], not positive
                         definite for a large V).
"""
import shutil
import sys

import h5py
import numpy as np

LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def fail(msg):
    print("gptq_check: FAIL: " + msg)
    sys.exit(1)


def same_attrs(a, b):
    if sorted(a.attrs) != sorted(b.attrs):
        return False
    return all(np.array_equal(np.asarray(a.attrs[k]), np.asarray(b.attrs[k])) for k in a.attrs)


def hessian(pa, pb, head=False):
    with h5py.File(pa, "r") as a, h5py.File(pb, "r") as b:
        ga, gb = a["hessian"], b["hessian"]
        if sorted(ga) != sorted(gb) or not same_attrs(ga, gb):
            fail("/hessian names or attributes differ")
        w = ga["time_weights"][:]
        layers = [k for k in ga if k != "time_weights"]
        blocks = {int(k.split(".")[2]) for k in a["stats"] if k.startswith("model.layers.")}
        want = {f"model.layers.{l}.{p}.weight" for l in blocks
                for p in ("self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj")}
        if head:
            want.add("lm_head.weight")
        if set(layers) != want:
            fail(f"layers {sorted(layers)} != {sorted(want)}")
        for k in sorted(ga):
            x, y = ga[k][()], gb[k][()]
            if x.dtype != y.dtype or x.tobytes() != y.tobytes() or not same_attrs(ga[k], gb[k]):
                fail(f"/hessian/{k} differs between {pa} and {pb}")
        for k in layers:
            n = int(ga[k].attrs["n"])
            H = np.zeros((n, n))
            H[np.triu_indices(n)] = ga[k][:]
            H = H + np.triu(H, 1).T
            ref = (w[:, None] * a["stats"][k]["sq_mean"][:].astype(np.float64)).sum(0)
            rel = np.max(np.abs(np.diag(H) - ref) / np.maximum(ref, 1e-30))
            if rel > 1e-5:
                fail(f"{k}: diag H differs from sum_t w_t E[x^2 | t] by {rel:.3g} (relative)")
            ev = np.linalg.eigvalsh(H)
            if ev[0] < -1e-5 * ev[-1]:
                fail(f"{k}: H not PSD (eigenvalues {ev[0]:.3g} .. {ev[-1]:.3g})")
        print(f"gptq_check: {len(layers)} Hessians identical, diag = sum_t w_t E[x^2|t], PSD")


def attrs(path, damp, block, act_order):
    n_g = n_other = 0
    with h5py.File(path, "r") as f:
        for name, g in f["tensors"].items():
            if g.attrs.get("kind") not in (b"quantized", "quantized"):
                continue
            opt = g.attrs.get("optimizer")
            if any(f".{p}.weight" in name for p in LINEAR):
                if opt not in (b"gptq", "gptq"):
                    fail(f"{name}: optimizer = {opt!r}, want gptq")
                got = (float(g.attrs["gptq_damp"]), int(g.attrs["gptq_block"]),
                       int(g.attrs["gptq_act_order"]))
                if got != (damp, block, act_order):
                    fail(f"{name}: gptq attributes {got} != {(damp, block, act_order)}")
                n_g += 1
            else:
                if opt is not None or "gptq_block" in g.attrs:
                    fail(f"{name}: has GPTQ attributes but no Hessian")
                n_other += 1
    if n_g == 0:
        fail("no GPTQ tensor")
    print(f"gptq_check: {n_g} GPTQ tensors with damp {damp} block {block} act_order {act_order}, "
          f"{n_other} by the normal search")


def drop(src, dst, layer):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        del f["hessian"][layer]


def poke(src, dst, layer, i, v):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        d = f["hessian"][layer]
        x = d[:]
        x[i] = v
        d[...] = x


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "hessian":
        hessian(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "head")
    elif cmd == "attrs":
        attrs(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "poke":
        poke(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    elif cmd == "drop":
        drop(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        fail("unknown command " + cmd)
