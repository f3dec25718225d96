# libFuzzer harnesses (tests/fuzz): built by clang in their own directory, then each is
# replayed on its regression inputs and fuzzed for AQ_FUZZ_SECONDS from the seed corpus.
# Skipped (exit 77, reason printed) when clang or its fuzzer runtime is missing.
set(AQ_FUZZ_SECONDS 10 CACHE STRING "Seconds each fuzzer runs in the test suite")
set(AQ_FUZZ_DIR ${CMAKE_BINARY_DIR}/fuzz)
add_test(NAME fuzz.build COMMAND bash ${CMAKE_SOURCE_DIR}/tests/fuzz/build.sh ${AQ_FUZZ_DIR})
set_tests_properties(fuzz.build PROPERTIES FIXTURES_SETUP fuzz_bins SKIP_RETURN_CODE 77 TIMEOUT 600)
foreach(f safetensors index config calib hessian)
  add_test(NAME fuzz.${f}
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/fuzz/run.sh ${f} ${AQ_FUZZ_DIR} ${AQ_FUZZ_SECONDS})
  set_tests_properties(fuzz.${f} PROPERTIES FIXTURES_REQUIRED fuzz_bins SKIP_RETURN_CODE 77
    TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endforeach()
