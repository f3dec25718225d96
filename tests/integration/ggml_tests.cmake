# ggml block formats against llama.cpp's own decoder (gguf-py, numpy only); skipped (77) when
# ../shared/llama.cpp is absent.
add_executable(ggml_legacy_blocks ${CMAKE_SOURCE_DIR}/tests/integration/ggml_legacy_blocks.c)
target_link_libraries(ggml_legacy_blocks PRIVATE aq_quant)
add_test(NAME ggml.decode_check
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/ggml_decode_check.py
                 $<TARGET_FILE:ggml_legacy_blocks> ${CMAKE_BINARY_DIR}/itest/ggml_decode
                 ${CMAKE_SOURCE_DIR}/../shared/llama.cpp)
set_tests_properties(ggml.decode_check PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
