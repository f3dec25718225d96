# tinystories-dream-4m (issue 14): a real masked-diffusion LM in Dream's format.  Included from
# CMakeLists.txt after tests.cmake (uses aq_itest, IT, ITD, BIN, AQ_SHARED).  The scripts
# exit 77 (skipped, with the reason) when the model or the corpus is absent.
set(DREAM_MODEL ${AQ_SHARED}/models/tinystories-dream-4m)
set(AQ_CORPUS ${AQ_SHARED}/corpus)
if(TARGET aq-eval AND TARGET aq-calib AND TARGET aq-generate)
  aq_itest(dream.nll COMMAND bash ${ITD}/dream_nll.sh ${BIN} ${DREAM_MODEL} ${AQ_CORPUS} ${IT}/dream_nll)
  aq_itest(dream.pipeline COMMAND bash ${ITD}/dream_pipeline.sh ${BIN} ${DREAM_MODEL} ${AQ_CORPUS} ${IT}/dream_pipe)
  aq_itest(dream.generate_help COMMAND bash -c "$<TARGET_FILE:aq-generate> --help | grep -q -- --prompt")
  set_tests_properties(dream.nll dream.pipeline PROPERTIES SKIP_RETURN_CODE 77)
endif()
