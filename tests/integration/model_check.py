#!/usr/bin/env python3
"""Checks for the forward-pass tools (aq-calib, aq-eval); see model_tests.cmake.

  model_check.py same-json A.json B.json      metrics identical (except nothing)
  model_check.py calib A.h5 B.h5 ...          calibration files identical, values sane
  model_check.py clean CLEAN.h5 MASKED.h5     --clean file: T = 1, labelled clean, != masked
  model_check.py kl EVAL.json                 KL(8 bit) < 2e-3, KL 8 < 4 < 2 bits
"""
import json
import sys

import h5py
import numpy as np


def same_json(a, b):
    ja, jb = json.load(open(a)), json.load(open(b))
    ra, rb = ja["results"], jb["results"]
    for x, y in zip(ra, rb):
        assert x["overall"] == y["overall"], (x["overall"], y["overall"])
        assert x["per_timestep"] == y["per_timestep"]
    print(f"same-json: {a} == {b}")


def calib(paths):
    fs = [h5py.File(p, "r") for p in paths]
    names = sorted(fs[0]["stats"].keys())
    assert names, "no layers"
    assert "model.layers.1.mlp.down_proj.weight" in names
    T = int(fs[0].attrs["T"])
    for nm in names:
        g = fs[0]["stats"][nm]
        assert g["min"].shape == (T,) and g["sq_mean"].shape[0] == T
        assert np.all(g["min"][...] <= g["mean"][...]) and np.all(g["mean"][...] <= g["max"][...])
        assert np.all(g["std"][...] > 0) and np.all(g["count"][...] > 0)
        for f in fs[1:]:
            for k in g:
                assert np.array_equal(g[k][...], f["stats"][nm][k][...]), (f.filename, nm, k)
    print(f"calib: {len(names)} layers, T = {T}, identical across {len(fs)} files")


def clean(pc, pm):
    c, m = h5py.File(pc, "r"), h5py.File(pm, "r")
    assert int(c.attrs["T"]) == 1, c.attrs["T"]
    assert b"clean" in c.attrs["timestep"] and b"clean" in c.attrs["source"]
    assert b"clean" not in m.attrs["timestep"]
    names = sorted(c["stats"].keys())
    assert names == sorted(m["stats"].keys())
    ndiff = sum(not np.array_equal(c["stats"][n]["sq_mean"][...], m["stats"][n]["sq_mean"][...])
                for n in names)
    # Every layer sees the masked tokens (the first through its embedding row), so all differ.
    assert ndiff == len(names), f"only {ndiff} of {len(names)} layers differ from masked"
    print(f"clean: T = 1, all {len(names)} layers differ from the masked statistics")


def kl(path):
    res = {r["result"].rsplit("/", 1)[-1]: r for r in json.load(open(path))["results"]}
    k8, k4, k2 = (res[f"w{b}.h5"] for b in (8, 4, 2))
    for b, r in (("8", k8), ("4", k4), ("2", k2)):
        o = r["overall"]
        print(f"W{b}: kl {o['kl']:.6g}  nll_fp {o['nll_fp']:.4f}  nll_q {o['nll_q']:.4f}  top1 {o['top1']:.4f}")
    assert k8["overall"]["kl"] < 2e-3, "8-bit KL not near zero"
    assert k8["overall"]["top1"] > 0.97
    assert k8["overall"]["kl"] < k4["overall"]["kl"] < k2["overall"]["kl"], "KL not monotone in bits"
    for a, b, c in zip(k8["per_timestep"], k4["per_timestep"], k2["per_timestep"]):
        assert a["kl"] < b["kl"] < c["kl"], f"KL not monotone at t = {a['t']}"
    print("kl: near zero at 8 bits, monotone 8 < 4 < 2")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"same-json": lambda: same_json(*args), "calib": lambda: calib(args),
     "clean": lambda: clean(*args), "kl": lambda: kl(*args)}[cmd]()
