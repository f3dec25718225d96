# ggml k-quant blocks read by llama.cpp's gguf-py (issue 13); skipped (77) without the
# ../shared/llama.cpp snapshot.
add_executable(kquant_write_blocks ${CMAKE_SOURCE_DIR}/tests/integration/kquant_write_blocks.c)
target_link_libraries(kquant_write_blocks PRIVATE aq_quant)
set(KQ_IT ${CMAKE_BINARY_DIR}/itest/kquant)
file(MAKE_DIRECTORY ${KQ_IT})
add_test(NAME kquant.gguf_py_decode COMMAND bash -c
  "$<TARGET_FILE:kquant_write_blocks> ${KQ_IT} && /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/kquant_decode_check.py ${KQ_IT} ${CMAKE_SOURCE_DIR}/../shared/llama.cpp")
set_tests_properties(kquant.gguf_py_decode PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
