# ggml block formats against llama.cpp's own decoder (gguf-py, numpy only); skipped (77) when
# ../shared/llama.cpp is absent.
add_executable(ggml_legacy_blocks ${CMAKE_SOURCE_DIR}/tests/integration/ggml_legacy_blocks.c)
target_link_libraries(ggml_legacy_blocks PRIVATE aq_quant)
add_test(NAME ggml.decode_check
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/ggml_decode_check.py
                 $<TARGET_FILE:ggml_legacy_blocks> ${CMAKE_BINARY_DIR}/itest/ggml_decode
                 ${CMAKE_SOURCE_DIR}/../shared/llama.cpp)
set_tests_properties(ggml.decode_check PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

# ggml's formats as rows of the format table (quant.format): job -> HDF5 blocks decoded in
# numpy == aq-inspect --export (and gguf-py); rank invariance on 1 and 3 ranks.
# tinystories-qwen2-4m: every row a multiple of 256; TinyStories-656K: 128-wide rows, so the
# k-quants fall back to llama-quantize's 32-block formats.
add_test(NAME ggml.rows_q4_k_qwen2_mpi
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ggml_rows_test.sh ${CMAKE_BINARY_DIR}
                 ${AQ_SHARED}/models/tinystories-qwen2-4m q4_k
                 ${CMAKE_BINARY_DIR}/itest/ggml_rows/qwen2 ${CMAKE_SOURCE_DIR}/../shared/llama.cpp --mpi)
add_test(NAME ggml.rows_q4_k_656k_fallback_mpi
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ggml_rows_test.sh ${CMAKE_BINARY_DIR}
                 ${AQ_SHARED}/models/tinystories-656k-llama q4_k
                 ${CMAKE_BINARY_DIR}/itest/ggml_rows/656k ${CMAKE_SOURCE_DIR}/../shared/llama.cpp --mpi)
add_test(NAME ggml.rows_q8_0_qwen2
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ggml_rows_test.sh ${CMAKE_BINARY_DIR}
                 ${AQ_SHARED}/models/tinystories-qwen2-4m q8_0
                 ${CMAKE_BINARY_DIR}/itest/ggml_rows/qwen2 ${CMAKE_SOURCE_DIR}/../shared/llama.cpp)
# A safetensors file written by the test: rows of 256, 288 (q6_k -> q8_0) and 48 (no block:
# passthrough, recorded).
add_test(NAME ggml.rows_q6_k_odd_rows_mpi
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ggml_rows_test.sh ${CMAKE_BINARY_DIR}
                 synthetic q6_k ${CMAKE_BINARY_DIR}/itest/ggml_rows/odd
                 ${CMAKE_SOURCE_DIR}/../shared/llama.cpp --mpi)
set_tests_properties(ggml.rows_q4_k_qwen2_mpi ggml.rows_q4_k_656k_fallback_mpi ggml.rows_q8_0_qwen2
                     ggml.rows_q6_k_odd_rows_mpi
                     PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     ENVIRONMENT "HDF5_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins")

# Mixed ggml formats under a size budget (quant.budget_bits with quant.format, issue 13 item 2):
# tinystories-qwen2-4m at 3.5 bits/weight (between Q2_K and Q4_K), embeddings and output
# included, on 1 and 3 ranks.
add_test(NAME ggml.budget_q2_k_qwen2_mpi
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ggml_budget_test.sh ${CMAKE_BINARY_DIR}
                 ${AQ_SHARED}/models/tinystories-qwen2-4m q2_k 3.5
                 ${CMAKE_BINARY_DIR}/itest/ggml_budget/qwen2 ${CMAKE_SOURCE_DIR}/../shared/llama.cpp)
set_tests_properties(ggml.budget_q2_k_qwen2_mpi PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     ENVIRONMENT "HDF5_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins")
# The same budget driven by measured output KL (quant.budget_kl_path with quant.format):
# aq-eval --layer-kl --clean covers embedding and lm_head and names the format; a made-up KL
# file steers the choice; 1 and 3 ranks bit-identical; a missing entry is refused.
add_test(NAME ggml.budget_kl_q2_k_qwen2_mpi
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ggml_budget_kl_test.sh ${CMAKE_BINARY_DIR}
                 ${AQ_SHARED}/models/tinystories-qwen2-4m ${CMAKE_BINARY_DIR}/itest/ggml_budget_kl)
set_tests_properties(ggml.budget_kl_q2_k_qwen2_mpi PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     ENVIRONMENT "HDF5_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins")
