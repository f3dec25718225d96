# GGUF export (issue 13): files read by llama.cpp's gguf-py and run by llama.cpp's own tools.
# Included from CMakeLists.txt after tests.cmake (uses aq_itest, IT, ITD, BIN, AQ_SHARED_DIR).
# The llama.cpp tools come from scripts/build-llama-cpp.sh ($AQ_LLAMA_BUILD, default
# <repo>/build-llama); tests that need them, or gguf-py, exit 77 (skipped) with the reason.
if(TARGET aq_model)
  add_executable(aq_gguf_ppl tests/integration/gguf_ppl.c)
  target_link_libraries(aq_gguf_ppl PRIVATE aq_model)
endif()
set(GGUF_T bash ${ITD}/gguf_test.sh ${BIN} ${IT}/gguf)
if(TEST unit.test_io_gguf)
  set_tests_properties(unit.test_io_gguf PROPERTIES FIXTURES_SETUP gguf_types)
  aq_itest(gguf.types REQUIRES gguf_types COMMAND ${GGUF_T} types)
  set_tests_properties(gguf.types PROPERTIES SKIP_RETURN_CODE 77)
endif()
foreach(case export result bad_input ggml)
  aq_itest(gguf.${case} COMMAND ${GGUF_T} ${case})
  set_tests_properties(gguf.${case} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
if(TARGET aq_model)
  foreach(case ppl_qwen2 ppl_656k ppl_dream diffusion_dream bytelevel ppl_q8_0 diffusion_q4_k)
    aq_itest(gguf.llama.${case} COMMAND ${GGUF_T} ${case})
    set_tests_properties(gguf.llama.${case} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()
