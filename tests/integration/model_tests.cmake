# Forward-pass tools (issue 4): aq-calib and aq-eval on the real TinyStories model.
# Included from CMakeLists.txt after tests/integration/tests.cmake (uses its aq_itest, IT, ITD,
# BIN, REAL_MODEL).  The greedy "Lily" check is the unit test unit.test_model_forward.
if(TARGET aq-eval AND TARGET aq-calib)
  aq_itest(model.pipeline COMMAND bash ${ITD}/model_pipeline.sh ${BIN} ${REAL_MODEL} ${IT}/model_pipe)
  aq_itest(model.kl_bits COMMAND bash ${ITD}/model_kl.sh ${BIN} ${REAL_MODEL} ${IT}/model_kl)
  aq_itest(model.act_fakequant COMMAND bash ${ITD}/model_act.sh ${BIN} ${REAL_MODEL} ${IT}/model_act)
  aq_itest(model.calib_clean COMMAND bash ${ITD}/calib_clean.sh ${BIN} ${REAL_MODEL} ${IT}/calib_clean)
  aq_itest(model.help COMMAND bash -c "$<TARGET_FILE:aq-eval> --help | grep -q -- --result && $<TARGET_FILE:aq-calib> --help | grep -q -- --timesteps")
  aq_itest(model.bad_result COMMAND bash -c "! $<TARGET_FILE:aq-eval> --model ${REAL_MODEL} --result ${REAL_MODEL}/config.json 2> ${IT}/bad_result.err && grep -q 'not an HDF5 file' ${IT}/bad_result.err")
endif()
# GPTQ (issue 15): aq-calib --hessian, quant.gptq at -n 1/3 and 1/2 threads, KL, bad inputs.
if(TARGET aq-eval AND TARGET aq-calib)
  aq_itest(model.gptq COMMAND bash ${ITD}/gptq_test.sh ${BIN} ${AQ_SHARED} ${IT}/gptq)
  # Row blocks sharing one factorization (issue 16): plan, bit-identity, SIGUSR1 + resume,
  # a failing factorization owner, at 4 ranks on tinystories-qwen2-4m.
  aq_itest(model.gptq_share COMMAND bash ${ITD}/gptq_share_test.sh ${BIN} ${AQ_SHARED} ${IT}/gptq_share)
  set_tests_properties(model.gptq model.gptq_share PROPERTIES SKIP_RETURN_CODE 77)
endif()
