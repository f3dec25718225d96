# Integration tests: real mpirun, real models, real HDF5 clients (h5py, h5dump).
set(REAL_MODEL ${AQ_SHARED}/models/tinystories-656k-llama) # AQ_SHARED: CMakeLists.txt
set(IT ${CMAKE_BINARY_DIR}/itest)
set(ITD ${CMAKE_SOURCE_DIR}/tests/integration)
set(PY /usr/bin/python3) # Debian's python3-h5py lives with the system interpreter
set(BIN ${CMAKE_BINARY_DIR})
set(IT_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;HDF5_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins;OMP_NUM_THREADS=1")

function(aq_itest name)
  cmake_parse_arguments(A "" "SETUP" "REQUIRES;COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${IT_ENV}" TIMEOUT 900)
  if(A_SETUP)
    set_tests_properties(${name} PROPERTIES FIXTURES_SETUP ${A_SETUP})
  endif()
  if(A_REQUIRES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${A_REQUIRES}")
  endif()
endfunction()

# The embedded default model, generated deterministically.
file(MAKE_DIRECTORY ${IT})
aq_itest(synth.tiny SETUP tiny COMMAND $<TARGET_FILE:aq-synth> --preset tiny --out ${IT}/tiny --seed 7)
aq_itest(synth.deterministic COMMAND bash ${ITD}/synth_deterministic.sh $<TARGET_FILE:aq-synth> ${IT}/det)

aq_itest(cli.help COMMAND bash -c "$<TARGET_FILE:aq-mpi> --help | grep -q -- --dry-run && $<TARGET_FILE:aq-mpi> --version | grep -q 'aq-mpi ${PROJECT_VERSION}'")
aq_itest(cli.dry_run COMMAND bash -c "mpirun -n 3 $<TARGET_FILE:aq-mpi> --config ${CMAKE_SOURCE_DIR}/jobs/baseline.ini --set model.path=${REAL_MODEL} --dry-run > ${IT}/dry_run.log && grep -q 'rank    2' ${IT}/dry_run.log")

# Every shipped job file runs as users run it (model and output redirected to the tiny model).
file(GLOB AQ_JOB_FILES ${CMAKE_SOURCE_DIR}/jobs/*.ini)
foreach(job ${AQ_JOB_FILES})
  get_filename_component(jname ${job} NAME_WE)
  aq_itest(jobs.${jname} REQUIRES tiny COMMAND bash -c
    "mpirun --oversubscribe --allow-run-as-root -n 2 $<TARGET_FILE:aq-mpi> --config ${job} --set model.path=${IT}/tiny --set output.path=${IT}/job_${jname}.h5 --set run.threads=1 > ${IT}/job_${jname}.log && test -f ${IT}/job_${jname}.h5 && $<TARGET_FILE:aq-inspect> --verify ${IT}/job_${jname}.h5")
endforeach()

# Real model and generated model at 1, 2, 3 ranks; outputs must be bit-identical.
foreach(n 1 2 3)
  aq_itest(mpi.real.n${n} SETUP real_n${n}
    COMMAND bash ${ITD}/run_job.sh ${BIN} ${n} ${REAL_MODEL} ${IT}/real_n${n}.h5 --set quant.bits=4)
  aq_itest(mpi.tiny.n${n} SETUP tiny_n${n} REQUIRES tiny
    COMMAND bash ${ITD}/run_job.sh ${BIN} ${n} ${IT}/tiny ${IT}/tiny_n${n}.h5 --set quant.bits=2 --set quant.group_size=32)
endforeach()
aq_itest(determinism.real REQUIRES "real_n1;real_n2;real_n3"
  COMMAND ${PY} ${ITD}/compare_results.py ${IT}/real_n1.h5 ${IT}/real_n2.h5 ${IT}/real_n3.h5)
aq_itest(source.digests REQUIRES "tiny;tiny_n3" COMMAND ${PY} ${ITD}/source_check.py ${IT}/tiny_n3.h5 ${IT}/tiny)
aq_itest(determinism.tiny REQUIRES "tiny_n1;tiny_n2;tiny_n3"
  COMMAND ${PY} ${ITD}/compare_results.py ${IT}/tiny_n1.h5 ${IT}/tiny_n2.h5 ${IT}/tiny_n3.h5)

# Time-aware activations with Phases 1-3 (synthetic statistics): rank-count invariance of the
# boundaries, every /act parameter and the weights (importance-weighted mse).
foreach(n 1 3)
  aq_itest(mpi.phase3.n${n} SETUP phase3_n${n}
    COMMAND bash ${ITD}/run_job.sh ${BIN} ${n} ${REAL_MODEL} ${IT}/phase3_n${n}.h5
            --set calib.synthetic=true --set calib.timesteps=16 --set timegroups.count=4
            --set timegroups.boundaries=optimized --set phase1.enabled=true
            --set phase2.enabled=true --set phase3.enabled=true)
endforeach()
aq_itest(determinism.phase3 REQUIRES "phase3_n1;phase3_n3"
  COMMAND ${PY} ${ITD}/compare_results.py ${IT}/phase3_n1.h5 ${IT}/phase3_n3.h5)
aq_itest(interop.phase3 REQUIRES phase3_n3 COMMAND ${PY} ${ITD}/interop_check.py ${IT}/phase3_n3.h5 ${REAL_MODEL})

# Interop: h5py + numpy dequantize independently and check the reported SQNR; h5dump reads.
aq_itest(interop.real.int4 REQUIRES real_n2 COMMAND ${PY} ${ITD}/interop_check.py ${IT}/real_n2.h5 ${REAL_MODEL})
aq_itest(interop.tiny.int2 REQUIRES "tiny;tiny_n3" COMMAND ${PY} ${ITD}/interop_check.py ${IT}/tiny_n3.h5 ${IT}/tiny)
foreach(cfg "8;rtn;f32;true" "2;mse;f16;true" "4;rtn;f16;false")
  list(GET cfg 0 bits)
  list(GET cfg 1 method)
  list(GET cfg 2 sdt)
  list(GET cfg 3 emb)
  set(tag real_${bits}_${method}_${sdt})
  aq_itest(mpi.${tag} SETUP ${tag}
    COMMAND bash ${ITD}/run_job.sh ${BIN} 2 ${REAL_MODEL} ${IT}/${tag}.h5 --set quant.bits=${bits}
            --set quant.method=${method} --set quant.scale_dtype=${sdt} --set quant.embeddings=${emb}
            --set quant.group_size=32)
  aq_itest(interop.${tag} REQUIRES ${tag} COMMAND ${PY} ${ITD}/interop_check.py ${IT}/${tag}.h5 ${REAL_MODEL})
endforeach()
aq_itest(interop.h5dump REQUIRES real_n2 COMMAND bash ${ITD}/h5dump_check.sh ${IT}/real_n2.h5 ${CMAKE_BINARY_DIR}/plugins)

# Per-layer fallback 2 -> 4 bits (issue 8): decisions recorded, mixed widths read back.
aq_itest(fallback COMMAND bash ${ITD}/fallback_test.sh ${BIN} ${REAL_MODEL} ${IT}/fallback)
# The same driven by aq-eval --layer-kl (KL with only that layer quantized).
if(TARGET aq-eval)
  aq_itest(fallback.kl COMMAND bash ${ITD}/fallback_kl_test.sh ${BIN} ${REAL_MODEL} ${IT}/fallback_kl)
  aq_itest(budget.kl COMMAND bash ${ITD}/budget_kl_test.sh ${BIN} ${REAL_MODEL} ${IT}/budget_kl)
endif()

# Mixed precision under a size budget (issue 8): within budget, same widths on 1 and 3 ranks.
foreach(n 1 3)
  aq_itest(mpi.budget.n${n} SETUP budget_n${n}
    COMMAND bash ${ITD}/run_job.sh ${BIN} ${n} ${REAL_MODEL} ${IT}/budget_n${n}.h5 --set quant.budget_bits=3.0)
endforeach()
aq_itest(budget REQUIRES "budget_n1;budget_n3" COMMAND bash -c
  "${PY} ${ITD}/budget_check.py ${IT}/budget_n3.h5 3.0 && ${PY} ${ITD}/compare_results.py ${IT}/budget_n1.h5 ${IT}/budget_n3.h5 && ${PY} ${ITD}/interop_check.py ${IT}/budget_n3.h5 ${REAL_MODEL} | tail -n 1")

# Double-quantized group parameters (issue 8): jobs/int2_compact.ini (2-bit, 2.625 b/w) at 1
# and 3 ranks, bit-identical; 3- and 4-bit dq; every file dequantized independently by
# h5py/numpy (interop_check.py) and checked by aq-inspect --verify; size within the budget.
foreach(n 1 3)
  aq_itest(mpi.dq2.n${n} SETUP dq2_n${n} REQUIRES tiny
    COMMAND bash -c "mpirun --oversubscribe --allow-run-as-root -n ${n} $<TARGET_FILE:aq-mpi> --config ${CMAKE_SOURCE_DIR}/jobs/int2_compact.ini --set model.path=${IT}/tiny --set output.path=${IT}/dq2_n${n}.h5 --set run.threads=1 > ${IT}/dq2_n${n}.log && grep -q 'int2 mse g16 dq' ${IT}/dq2_n${n}.log")
endforeach()
aq_itest(determinism.dq2 REQUIRES "dq2_n1;dq2_n3"
  COMMAND ${PY} ${ITD}/compare_results.py ${IT}/dq2_n1.h5 ${IT}/dq2_n3.h5)
aq_itest(interop.dq2 REQUIRES "tiny;dq2_n3" COMMAND bash -c
  "${PY} ${ITD}/interop_check.py ${IT}/dq2_n3.h5 ${IT}/tiny && ${PY} ${ITD}/dq_size_check.py ${IT}/dq2_n3.h5 2.625 && $<TARGET_FILE:aq-inspect> --verify ${IT}/dq2_n3.h5")
aq_itest(budget.dq COMMAND bash -c
  "mpirun --oversubscribe --allow-run-as-root -n 3 $<TARGET_FILE:aq-mpi> --config ${CMAKE_SOURCE_DIR}/jobs/int2_compact.ini --set model.path=${REAL_MODEL} --set output.path=${IT}/budget_dq.h5 --set run.threads=1 --set quant.budget_bits=3.0 > ${IT}/budget_dq.log && grep -q '2/3/4/8-bit widths' ${IT}/budget_dq.log && ${PY} ${ITD}/budget_check.py ${IT}/budget_dq.h5 3.0 && ${PY} ${ITD}/interop_check.py ${IT}/budget_dq.h5 ${REAL_MODEL} | tail -n 1")
foreach(bits 3 4)
  aq_itest(mpi.dq${bits}.real SETUP dq${bits}_real
    COMMAND bash ${ITD}/run_job.sh ${BIN} 2 ${REAL_MODEL} ${IT}/dq${bits}_real.h5 --set quant.bits=${bits}
            --set quant.group_size=32 --set quant.scale_dtype=dq)
  aq_itest(interop.dq${bits}.real REQUIRES dq${bits}_real COMMAND bash -c
    "${PY} ${ITD}/interop_check.py ${IT}/dq${bits}_real.h5 ${REAL_MODEL} && $<TARGET_FILE:aq-inspect> --verify ${IT}/dq${bits}_real.h5")
endforeach()

# Requeue safety: SIGUSR1 mid-run, exit 3, --resume on another rank count, bit-identical.
aq_itest(interrupt_resume COMMAND bash ${ITD}/interrupt_resume.sh ${BIN} ${IT}/interrupt)
aq_itest(interrupt_resume.dq COMMAND bash ${ITD}/interrupt_resume.sh ${BIN} ${IT}/interrupt_dq
  --set quant.scale_dtype=dq --set quant.dq_bits=4)

# A rank killed with SIGKILL mid-run: partial left, --resume finishes bit-identical.
foreach(n 1 2 3)
  aq_itest(kill_resume.n${n} COMMAND bash ${ITD}/kill_resume.sh ${BIN} ${n} ${IT}/kill_n${n})
endforeach()
aq_itest(inspect REQUIRES real_n2 COMMAND bash ${ITD}/inspect_check.sh ${BIN} ${REAL_MODEL} ${IT}/inspect)

# Bad input: one-line error naming the file, non-zero exit, nothing under the final name.
aq_itest(bad_input COMMAND bash ${ITD}/bad_input.sh ${BIN} ${REAL_MODEL}/model.safetensors ${IT}/bad)

# Row-sharding (issue 16): tensors above a fair share cut into row blocks (small chunks via a
# test hook), bit-identical to -n 1 at -n 3 and oversubscribed -n 8 / -n 16; --dry-run shows
# the blocks.  The real model with synthetic calibration (importance h) and Phases 1-3.
aq_itest(shard.real COMMAND bash ${ITD}/shard_test.sh ${BIN} ${REAL_MODEL} ${IT}/shard_real "3"
  --set quant.embeddings=true --set calib.synthetic=true --set calib.timesteps=16
  --set timegroups.count=4 --set phase1.enabled=true --set phase2.enabled=true --set phase3.enabled=true)
aq_itest(shard.qwen2 COMMAND bash ${ITD}/shard_test.sh ${BIN} ${AQ_SHARED}/models/tinystories-qwen2-4m
  ${IT}/shard_qwen2 "8 16" --set quant.embeddings=true --set quant.bits=2 --set quant.group_size=32)
# --dry-run --ranks N: the plan for N ranks from one process, row blocks included.
aq_itest(cli.dry_run_ranks COMMAND bash -c "$<TARGET_FILE:aq-mpi> --config ${CMAKE_SOURCE_DIR}/jobs/baseline.ini --set model.path=${REAL_MODEL} --set quant.embeddings=true --dry-run --ranks 16 > ${IT}/dry_run_ranks.log && grep -q 'rank   15' ${IT}/dry_run_ranks.log && grep -q 'lm_head.weight .* rows \\[0, [0-9]*) block 1/' ${IT}/dry_run_ranks.log && ! $<TARGET_FILE:aq-mpi> --ranks 3 2>/dev/null")

# SIGKILL of the last of 16 ranks while tensors are spread over ranks as row blocks.
aq_itest(kill_resume.shard COMMAND bash ${ITD}/kill_resume.sh ${BIN} 16 ${IT}/kill_shard)
set_tests_properties(kill_resume.shard PROPERTIES ENVIRONMENT
  "${IT_ENV};AQ_TEST_CHUNK_BYTES=4096;AQ_KR_LAYERS=4;AQ_KR_DELAY_MS=150;AQ_KR_SET=quant.embeddings=true")

# dq layout (narrow super-scale arrays: the 256-row chunk cap sets the granule) under a size
# budget (widths chosen per tensor before the blocks are cut).
aq_itest(shard.qwen2.dq_budget COMMAND bash ${ITD}/shard_test.sh ${BIN}
  ${AQ_SHARED}/models/tinystories-qwen2-4m ${IT}/shard_qwen2_dq "16" --set quant.embeddings=true
  --set quant.scale_dtype=dq --set quant.method=mse --set quant.budget_bits=3.0)
# The generated embedded model (3 shards) at -n 8 and -n 16, 2-bit g32, embeddings quantized.
aq_itest(shard.tiny REQUIRES tiny COMMAND bash ${ITD}/shard_test.sh ${BIN} ${IT}/tiny ${IT}/shard_tiny
  "8 16" --set quant.embeddings=true --set quant.bits=2 --set quant.group_size=32)
# ggml's block formats in row blocks: q4_k on qwen2-4m (every row a multiple of 256), and on
# the 656K model, whose 128/384-wide rows take llama-quantize's fallback (q5_0).
aq_itest(shard.qwen2.q4_k COMMAND bash ${ITD}/shard_test.sh ${BIN}
  ${AQ_SHARED}/models/tinystories-qwen2-4m ${IT}/shard_qwen2_q4k "8" --set quant.embeddings=true
  --set quant.format=q4_k)
# A size budget across ggml's formats (quant.budget_bits with quant.format): formats chosen
# per tensor before the blocks are cut, granule over every candidate format.
aq_itest(shard.qwen2.q2_k_budget COMMAND bash ${ITD}/shard_test.sh ${BIN}
  ${AQ_SHARED}/models/tinystories-qwen2-4m ${IT}/shard_qwen2_q2k_budget "8" --set quant.embeddings=true
  --set quant.format=q2_k --set quant.budget_bits=3.5)
aq_itest(shard.real.q4_k_fallback COMMAND bash ${ITD}/shard_test.sh ${BIN} ${REAL_MODEL}
  ${IT}/shard_real_q4k "3" --set quant.embeddings=true --set quant.format=q4_k)
set_tests_properties(shard.real shard.qwen2 shard.qwen2.dq_budget shard.tiny shard.qwen2.q4_k
  shard.qwen2.q2_k_budget shard.real.q4_k_fallback PROPERTIES SKIP_RETURN_CODE 77)
# Passthrough tensors filtered by their owner rank (issue 16): with quant.embeddings = false
# lm_head (2048x128 F32) is cut into row blocks at -n 8 and its chunks, filtered on several
# ranks, are libhdf5's byte for byte; files bit-identical to -n 1.
aq_itest(shard.real.passthrough COMMAND bash ${ITD}/shard_test.sh ${BIN} ${REAL_MODEL}
  ${IT}/shard_real_pass "3 8")
set_tests_properties(shard.real.passthrough PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT
  "${IT_ENV};AQ_ST_PASSTHROUGH_MIN=1")
# SIGUSR1 / SIGKILL while 16 ranks hold passthrough row blocks (embeddings not quantized).
aq_itest(interrupt_resume.shard_pass COMMAND bash ${ITD}/interrupt_resume.sh ${BIN}
  ${IT}/interrupt_shard_pass --set quant.embeddings=false)
set_tests_properties(interrupt_resume.shard_pass PROPERTIES ENVIRONMENT
  "${IT_ENV};AQ_TEST_CHUNK_BYTES=4096;AQ_IR_RANKS=16;AQ_IR_LAYERS=4;AQ_IR_DELAY_MS=150")
aq_itest(kill_resume.shard_pass COMMAND bash ${ITD}/kill_resume.sh ${BIN} 16 ${IT}/kill_shard_pass)
set_tests_properties(kill_resume.shard_pass PROPERTIES ENVIRONMENT
  "${IT_ENV};AQ_TEST_CHUNK_BYTES=4096;AQ_KR_LAYERS=4;AQ_KR_DELAY_MS=150;AQ_KR_SET=quant.embeddings=false")

# SIGUSR1 while 16 ranks hold row blocks (embeddings cut), --resume on 3 ranks: bit-identical.
aq_itest(interrupt_resume.shard COMMAND bash ${ITD}/interrupt_resume.sh ${BIN} ${IT}/interrupt_shard
  --set quant.embeddings=true)
set_tests_properties(interrupt_resume.shard PROPERTIES ENVIRONMENT
  "${IT_ENV};AQ_TEST_CHUNK_BYTES=4096;AQ_IR_RANKS=16;AQ_IR_LAYERS=4;AQ_IR_DELAY_MS=150")

# The planned parallel-HDF5 output mode's building blocks on this stack (docs/SCALING.md §6):
# 2 ranks, MPI-IO, 800 collectively created datasets (beyond the ~600-768 at which independent
# metadata writes fail on Debian's HDF5 1.10.8 + Open MPI 4.1.4), collective filtered writes;
# h5py then reads every dataset back through zstd and Fletcher32.
aq_itest(h5par.collective COMMAND bash -c
  "mpirun -n 2 $<TARGET_FILE:aq-bench-h5par> --out ${IT}/h5par.h5 --datasets 800 --rows 256 --cols 512 && ${PY} ${ITD}/h5par_check.py ${IT}/h5par.h5 800")

# run.trace: one timeline per rank; every computed tensor stored once by rank 0 (trace_check.py).
aq_itest(trace.n3 COMMAND bash -c
  "rm -f ${IT}/trace.*.tsv && mpirun -n 3 $<TARGET_FILE:aq-mpi> --config ${CMAKE_SOURCE_DIR}/jobs/int2_compact.ini --set model.path=${AQ_SHARED}/models/tinystories-qwen2-4m --set output.path=${IT}/trace.h5 --set run.trace=${IT}/trace --set run.threads=1 > ${IT}/trace.log && ${PY} ${ITD}/trace_check.py ${IT}/trace 3")
