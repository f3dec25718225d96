#!/usr/bin/env bash
# gguf_test.sh BIN_DIR WORK_DIR CASE — GGUF export against llama.cpp's own readers and tools.
#   export           every model of ../shared/models exported directly (as stored, f32, f16,
#                    bf16), read back by gguf-py: metadata + every tensor bit for bit
#   result           results of real runs (Qwen2 4M, TinyStories-656K tied) exported: refused
#                    without --dequantize-unsupported, else bit for bit against the f32
#                    safetensors export of the same result
#   ggml             quant.format results (Qwen2 4M q4_k and q8_0, TinyStories-656K q4_k ->
#                    q5_0 fallback, tied, Llama q/k permutation; embeddings quantized): the
#                    blocks exported as their ggml types, gguf-py's dequantize of every tensor
#                    equal to the f32 export bit for bit (and the --dtype f32 GGUF too)
#   ppl_q8_0         llama-perplexity on the Q8_0 export of tinystories-qwen2-4m within 1 %
#                    of the F32 export of the model
#   diffusion_q4_k   llama-diffusion-cli generates text from the Q4_K export of Dream 4M
#   bad_input        no model dir, no tokenizer, unknown architecture, truncated result,
#                    incomplete results: one clear error line, no file under the final name
#   ppl_qwen2        llama-perplexity on the F32 export of tinystories-qwen2-4m vs aq-mpi's
#                    forward pass on the same tokens: within 0.1 %
#   ppl_656k         the same for TinyStories-656K (tied embeddings, Llama q/k permutation)
#   ppl_dream        the same for Dream 4M with bidirectional attention on both sides (llama.cpp
#                    runs its non-causal graph under llama-perplexity): checks that graph
#   diffusion_dream  llama-diffusion-cli generates text from the F16 export of Dream 4M
#   bytelevel        the "gpt2" tokenizer path: llama.cpp tokenizes losslessly with merges
# Exit 77 (skipped) with the reason when gguf-py or the llama.cpp tools are absent.
set -euo pipefail
bin=$1 work=$2 case=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$root/../shared
models=$shared/models
llama_src=${AQ_LLAMA_SRC:-$shared/llama.cpp}
llama_bin=${AQ_LLAMA_BUILD:-$root/build-llama}/bin
py=/usr/bin/python3
mkdir -p "$work"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

need_gguf_py() {
  [ -d "$llama_src/gguf-py" ] || skip "no llama.cpp gguf-py at $llama_src/gguf-py"
  PYTHONPATH=$llama_src/gguf-py $py -c 'import gguf' 2>/dev/null ||
    skip "gguf-py does not import with $py (numpy missing?)"
}
need_llama() {
  [ -d "$llama_src" ] || skip "no llama.cpp source at $llama_src"
  for t in llama-perplexity llama-diffusion-cli; do
    [ -x "$llama_bin/$t" ] || skip "llama.cpp tool $t not built in $llama_bin (run scripts/build-llama-cpp.sh)"
  done
  [ -x "$bin/aq_gguf_ppl" ] || skip "$bin/aq_gguf_ppl not built"
}
check() { PYTHONPATH=$llama_src/gguf-py $py "$root/tests/integration/gguf_check.py" "$@"; }
export_gguf() { "$bin/aq-inspect" --export "$@" >/dev/null; }

case_export() {
  need_gguf_py
  for m in tinystories-656k-llama tinystories-qwen2-4m tinystories-dream-4m; do
    for dt in stored f32 f16 bf16; do
      out=$work/$m.$dt.gguf
      rm -f "$out"
      if [ $dt = stored ]; then export_gguf "$out" --model "$models/$m"; else
        export_gguf "$out" --model "$models/$m" --dtype $dt; fi
      check "$out" "$models/$m/model.safetensors" "$models/$m"
    done
  done
}

# A real run: 4-bit aq-mpi layout (not a ggml type), 2 ranks.
run_result() { # MODEL OUT
  [ -f "$2" ] || bash "$root/tests/integration/run_job.sh" "$bin" 2 "$1" "$2" --set quant.bits=4 >/dev/null
}

case_result() {
  need_gguf_py
  for m in tinystories-qwen2-4m tinystories-656k-llama; do
    res=$work/$m.q4.h5
    run_result "$models/$m" "$res"
    out=$work/$m.q4.gguf
    rm -f "$out" "$out.partial"
    if "$bin/aq-inspect" --export "$out" "$res" 2>"$work/refuse.err"; then
      fail "$m: an aq-mpi 4-bit layout was exported without --dequantize-unsupported"
    fi
    grep -q 'has no ggml type' "$work/refuse.err" || fail "$m: refusal message: $(cat "$work/refuse.err")"
    if [ -e "$out" ] || [ -e "$out.partial" ]; then fail "$m: file left after a refusal"; fi
    "$bin/aq-inspect" --export "$work/$m.ref.safetensors" --dtype f32 "$res" >/dev/null
    export_gguf "$out" --dequantize-unsupported "$res" # model dir: the result's source_model
    check "$out" "$work/$m.ref.safetensors" "$models/$m"
    export_gguf "$work/$m.q4f32.gguf" --dequantize-unsupported --dtype f32 --model "$models/$m" "$res"
    check "$work/$m.q4f32.gguf" "$work/$m.ref.safetensors" "$models/$m"
  done
}

# A quant.format run (2 ranks), embeddings quantized too; reused by later cases.
run_ggml() { # MODEL FORMAT OUT
  [ -f "$3" ] || bash "$root/tests/integration/run_job.sh" "$bin" 2 "$1" "$3" \
    --set quant.format="$2" --set quant.embeddings=true >/dev/null
}

case_ggml() {
  need_gguf_py
  for spec in tinystories-qwen2-4m:q4_k:Q4_K tinystories-656k-llama:q4_k:Q5_0 \
    tinystories-qwen2-4m:q8_0:Q8_0; do
    IFS=: read -r m f want <<<"$spec"
    res=$work/$m.$f.h5 out=$work/$m.$f.gguf
    run_ggml "$models/$m" "$f" "$res"
    "$bin/aq-inspect" --export "$work/$m.$f.ref.safetensors" --dtype f32 "$res" >/dev/null
    rm -f "$out"
    export_gguf "$out" "$res"
    check "$out" "$work/$m.$f.ref.safetensors" "$models/$m" | tee "$work/ggml.log"
    grep -q "tensors (F32, $want)" "$work/ggml.log" || fail "$m $f: GGUF types: $(cat "$work/ggml.log")"
    export_gguf "$work/$m.$f.f32.gguf" --dtype f32 "$res"
    check "$work/$m.$f.f32.gguf" "$work/$m.$f.ref.safetensors" "$models/$m"
  done
}

case_ppl_q8_0() {
  need_llama
  local m=tinystories-qwen2-4m res=$work/tinystories-qwen2-4m.q8_0.h5
  run_ggml "$models/$m" q8_0 "$res"
  export_gguf "$work/$m.ppl.f32.gguf" --model "$models/$m" --dtype f32
  export_gguf "$work/$m.ppl.q8_0.gguf" "$res"
  llama_ppl "$work/$m.ppl.f32.gguf" "$work/$m.f32.kld" "$work/$m.ppl.f32.log"
  llama_ppl "$work/$m.ppl.q8_0.gguf" "$work/$m.q8_0.kld" "$work/$m.ppl.q8_0.log"
  f32=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$work/$m.ppl.f32.log")
  q8=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$work/$m.ppl.q8_0.log")
  echo "$m: llama-perplexity PPL F32 export = $f32, Q8_0 export (quant.format = q8_0) = $q8"
  $py -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); d = abs(a - b) / b; print(f'relative difference {d:.2e} (limit 1e-2)'); sys.exit(d > 1e-2)" "$q8" "$f32" ||
    fail "$m: Q8_0 perplexity more than 1 % from F32"
}

case_diffusion_q4_k() {
  need_llama
  local m=tinystories-dream-4m res=$work/tinystories-dream-4m.q4_k.h5 log=$work/dream.q4_k.log
  run_ggml "$models/$m" q4_k "$res"
  export_gguf "$work/dream.q4_k.gguf" "$res"
  llama_diffusion "$work/dream.q4_k.gguf" "$log"
  grep -q 'mask_token_id.*= 2048' "$log" || fail "diffusion: mask token not 2048: $(grep mask "$log")"
  need_gguf_py
  n=$(PYTHONPATH=$llama_src/gguf-py $py -c "import sys, gguf; r = gguf.GGUFReader(sys.argv[1]); print(sum(t.tensor_type.name == 'Q4_K' for t in r.tensors))" "$work/dream.q4_k.gguf")
  echo "dream.q4_k.gguf: $n Q4_K tensors"
  [ "$n" -ge 28 ] || fail "diffusion: the export holds $n Q4_K tensors"
  text=$(sed -n '/total time:/,$p' "$log" | tail -n +2 | sed 's/^[0-9.]* I *//')
  echo "generated (Q4_K): $text"
  words=$(echo "$text" | grep -o '[A-Za-z]\{2,\}' | wc -l)
  [ "$words" -ge 10 ] || fail "diffusion: fewer than 10 words generated: $(tail -5 "$log")"
}

expect_error() { # WHAT PATTERN ARGS... : fails, one line matching PATTERN, no output file
  local what=$1 pat=$2 out=$work/bad.gguf
  shift 2
  rm -f "$out" "$out.partial"
  if "$bin/aq-inspect" --export "$out" "$@" >/dev/null 2>"$work/bad.err"; then
    fail "$what: exported"
  fi
  [ "$(wc -l <"$work/bad.err")" -eq 1 ] || fail "$what: not one error line: $(cat "$work/bad.err")"
  grep -q -- "$pat" "$work/bad.err" || fail "$what: message: $(cat "$work/bad.err")"
  if [ -e "$out" ] || [ -e "$out.partial" ]; then fail "$what: file left behind"; fi
  echo "ok: $what: $(cat "$work/bad.err")"
}

case_bad_input() {
  local m=$models/tinystories-656k-llama d=$work/badmodel res=$work/bad.q4.h5
  rm -rf "$d" && mkdir -p "$d"
  expect_error "no model directory" "not a model directory" --model "$work/nonexistent"
  ln -s "$m/model.safetensors" "$d/model.safetensors"
  cp "$m/config.json" "$d/config.json"
  expect_error "no tokenizer" "no tokenizer" --model "$d"
  sed 's/LlamaForCausalLM/GPT2LMHeadModel/' "$m/config.json" >"$d/config.json"
  expect_error "unknown architecture" "GPT2LMHeadModel is not exported" --model "$d"
  run_result "$m" "$res"
  head -c $(($(stat -c %s "$res") / 2)) "$res" >"$work/bad.trunc.h5"
  expect_error "truncated result" "bad.trunc.h5" --dequantize-unsupported --model "$m" "$work/bad.trunc.h5"
  python_h5() { HDF5_PLUGIN_PATH=$bin/plugins $py -c "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); del f[sys.argv[2]]" "$@"; }
  cp "$res" "$work/bad.norun.h5" && python_h5 "$work/bad.norun.h5" run
  expect_error "result without /run" "incomplete result" --dequantize-unsupported --model "$m" "$work/bad.norun.h5"
  cp "$res" "$work/bad.missing.h5" && python_h5 "$work/bad.missing.h5" tensors/model.norm.weight
  expect_error "result missing a tensor" "tensor model.norm.weight missing" --dequantize-unsupported --model "$m" "$work/bad.missing.h5"
  expect_error "other model's config" "config.json implies" --dequantize-unsupported --model "$models/tinystories-qwen2-4m" "$res"
}

# llama.cpp's logger prints from a worker thread and its singleton is never flushed at exit
# (common/log.cpp, upstream issue 22142): a run can end, status 0, before its last lines reach
# the log (seen in about 1 run in 5 on a loaded machine).  The tools are deterministic for a
# seed, so a run whose log lacks its final line is repeated, up to three times.
llama_diffusion() { # GGUF LOG: 64 steps from "Once upon a time", random order, seed 3
  for _ in 1 2 3; do
    "$llama_bin/llama-diffusion-cli" -m "$1" -p "Once upon a time" -ub 96 -c 96 -t 2 \
      --diffusion-steps 64 --diffusion-eps 0.001 --diffusion-algorithm 0 --seed 3 >"$2" 2>&1 ||
      fail "llama-diffusion-cli failed: $(tail -5 "$2")"
    grep -q 'total time:' "$2" && return 0
  done
  fail "llama-diffusion-cli printed no 'total time' line in 3 runs: $(tail -c 300 "$2")"
}

# llama-perplexity, rerun when its logger lost the final line (above).
llama_ppl() { # GGUF KLD LOG
  for _ in 1 2 3; do
    "$llama_bin/llama-perplexity" -m "$1" -f "$shared/corpus/val.txt" -c 128 -b 128 -ub 128 \
      --chunks 64 -t 2 \
      --kl-divergence-base "$2" >"$3" 2>&1 || fail "llama-perplexity failed: $(tail -5 "$3")"
    grep -q 'Final estimate: PPL' "$3" && return 0
  done
  fail "llama-perplexity printed no final estimate in 3 runs: $(tail -5 "$3")"
}

case_ppl() { # MODEL [--config-attention]
  need_llama
  local m=$1 g=$work/$1.ppl.f32.gguf
  local -a attn=("${@:2}")
  export_gguf "$g" --model "$models/$m" --dtype f32
  llama_ppl "$g" "$work/$m.kld" "$work/$m.ppl.log"
  theirs=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$work/$m.ppl.log")
  ours=$("$bin/aq_gguf_ppl" "${attn[@]}" "$models/$m" "$work/$m.kld" | tee "$work/$m.aq.log" | sed -n 's/aq ppl = \([0-9.]*\).*/\1/p')
  cat "$work/$m.aq.log"
  echo "$m: llama-perplexity PPL = $theirs, aq-mpi forward pass PPL = $ours"
  $py -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); d = abs(a - b) / b; print(f'relative difference {d:.2e} (limit 1e-3)'); sys.exit(d > 1e-3)" "$ours" "$theirs" ||
    fail "$m: perplexities differ by more than 0.1 %"
  # the exported tokenizer: llama.cpp's tokens of val.txt equal Hugging Face BPE's
  $py "$root/tests/integration/gguf_bpe_check.py" "$models/$m/tokenizer.json" "$work/$m.kld" \
    "$shared/corpus/val.txt" || fail "$m: llama.cpp tokenization differs from Hugging Face BPE"
}

case_diffusion_dream() {
  need_llama
  local g=$work/dream.f16.gguf log=$work/dream.diffusion.log
  export_gguf "$g" --model "$models/tinystories-dream-4m" --dtype f16
  # algorithm 0 (random unmasking order, as the model's own samples in its SOURCE.txt); the
  # default confidence-based order makes this 4M model repeat one name ("Mimi Mimi ...")
  llama_diffusion "$g" "$log"
  grep -q 'mask_token_id.*= 2048' "$log" || fail "diffusion: mask token not 2048: $(grep mask "$log")"
  # the generated text (it may span lines) follows the "total time" line
  text=$(sed -n '/total time:/,$p' "$log" | tail -n +2 | sed 's/^[0-9.]* I //')
  echo "generated: $text"
  words=$(echo "$text" | grep -o '[A-Za-z]\{2,\}' | wc -l)
  [ "$words" -ge 10 ] || fail "diffusion: fewer than 10 words generated: $(tail -5 "$log")"
}

# The unit test's file with every value type (unit.test_io_gguf), read by gguf-py.
case_types() {
  need_gguf_py
  PYTHONPATH=$llama_src/gguf-py $py - "$bin/gguf_all_types.gguf" <<'PY'
import sys, numpy as np, gguf
from gguf.quants import dequantize
r = gguf.GGUFReader(sys.argv[1])
want = {"general.alignment": 32, "t.u8": 200, "t.i8": -100, "t.u16": 60000, "t.i16": -30000,
        "t.u32": 4000000000, "t.i32": -2000000000, "t.f32": 0.25, "t.bool": True,
        "t.str": "h\u00e9llo \u2581", "t.u64": 0x123456789abcdef0, "t.i64": -5000000000,
        "t.f64": -1.5, "t.arr_i32": [-1, 0, 7], "t.arr_f32": [1.5, -2.0],
        "t.arr_str": ["a", "", "\u2581the"]}
bad = [k for k, v in want.items() if r.fields[k].contents() != v]
t = {x.name: x for x in r.tensors}
bad += [] if np.array_equal(dequantize(t["a"].data, t["a"].tensor_type).ravel(), np.arange(1, 7)) else ["a"]
bad += [] if np.array_equal(dequantize(t["c"].data, t["c"].tensor_type).ravel(), np.arange(1, 6)) else ["c"]
bad += [] if t["b.q8"].data.tobytes() == bytes(range(1, 69)) else ["b.q8"]
print("gguf-py read every value type" if not bad else f"mismatch: {bad}")
sys.exit(1 if bad else 0)
PY
}

# The "gpt2" (byte-level BPE, Qwen2 pre-tokenizer) path, with a small Qwen2-style tokenizer
# trained here (no real Qwen2/Dream 7B tokenizer is available): llama.cpp loads the export and
# tokenizes val.txt losslessly (the tokens decode to the text bytes) with merges applied.
case_bytelevel() {
  need_llama
  need_gguf_py
  local d=$work/bytelevel m=$models/tinystories-qwen2-4m
  rm -rf "$d" && mkdir -p "$d"
  ln -s "$m/model.safetensors" "$d/model.safetensors"
  cp "$m/config.json" "$d/config.json"
  $py "$root/tests/integration/gguf_bytelevel_tokenizer.py" "$shared/corpus/val.txt" "$d/tokenizer.json" 400
  export_gguf "$work/bytelevel.gguf" --model "$d"
  head -c 40000 "$shared/corpus/val.txt" >"$work/bytelevel.txt"
  "$llama_bin/llama-perplexity" -m "$work/bytelevel.gguf" -f "$work/bytelevel.txt" -c 128 -b 128 \
    -ub 128 --chunks 8 -t 2 --kl-divergence-base "$work/bytelevel.kld" >"$work/bytelevel.log" 2>&1 ||
    fail "llama-perplexity on the byte-level export: $(tail -5 "$work/bytelevel.log")"
  PYTHONPATH=$llama_src/gguf-py $py - "$work/bytelevel.gguf" "$work/bytelevel.kld" "$work/bytelevel.txt" <<'PY'
import sys, numpy as np, gguf
r = gguf.GGUFReader(sys.argv[1])
assert r.fields["tokenizer.ggml.model"].contents() == "gpt2", "model"
assert r.fields["tokenizer.ggml.pre"].contents() == "qwen2", "pre"
toks = r.fields["tokenizer.ggml.tokens"].contents()
b = open(sys.argv[2], "rb").read()
n_ctx, n_vocab, n_chunk = np.frombuffer(b[8:20], dtype="<i4")
ids = np.frombuffer(b[20:20 + 4 * n_ctx * n_chunk], dtype="<i4").tolist()
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, k = bs[:], 0
for x in range(256):
    if x not in bs:
        bs.append(x); cs.append(256 + k); k += 1
u2b = {chr(c): x for x, c in zip(bs, cs)}
data = bytes(u2b[ch] for i in ids for ch in toks[i])
text = open(sys.argv[3], "rb").read()
ok = text.startswith(data) and len(data) > 3 * len(ids) / 2
print(f"byte-level: {len(ids)} tokens decode to {len(data)} bytes of the text: {'OK' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
PY
}

case $case in
types) case_types ;;
bytelevel) case_bytelevel ;;
export) case_export ;;
result) case_result ;;
bad_input) case_bad_input ;;
ggml) case_ggml ;;
ppl_q8_0) case_ppl_q8_0 ;;
diffusion_q4_k) case_diffusion_q4_k ;;
ppl_qwen2) case_ppl tinystories-qwen2-4m ;;
ppl_656k) case_ppl tinystories-656k-llama ;;
ppl_dream) case_ppl tinystories-dream-4m --config-attention ;;
diffusion_dream) case_diffusion_dream ;;
*) fail "unknown case $case" ;;
esac
echo "gguf_test: $case ok"
