# Slurm tests: a real single-node Slurm cluster (tests/slurm/local_cluster.sh, Debian's
# slurm-wlm + munge, needs root) runs the real job scripts through sbatch.  Every test skips
# (exit 77) with the reason when this host cannot run the cluster.  They share the cluster
# (fixture slurm_cluster) and run one at a time (RESOURCE_LOCK), as the node has 4 CPUs only.
set(SLURM_TD ${CMAKE_SOURCE_DIR}/tests/slurm)
set(SLURM_CLUSTER ${CMAKE_BINARY_DIR}/slurm-cluster)
set(SLURM_WORK ${CMAKE_BINARY_DIR}/slurm-work)
# AQ_SLURM_CPUS=4: the node advertises 4 CPUs (config_overrides), so the scaling test can
# run its 2x2 grid on a 2-core machine.
set(SLURM_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;HDF5_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins;AQ_SLURM_CPUS=4;SLURM_CONF=${SLURM_CLUSTER}/slurm.conf")

function(aq_slurm_test name)
  cmake_parse_arguments(A "" "SETUP;CLEANUP" "REQUIRES;COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${SLURM_ENV}" TIMEOUT 900
    SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm_node)
  if(A_SETUP)
    set_tests_properties(${name} PROPERTIES FIXTURES_SETUP "${A_SETUP}")
  endif()
  if(A_CLEANUP)
    set_tests_properties(${name} PROPERTIES FIXTURES_CLEANUP "${A_CLEANUP}")
  endif()
  if(A_REQUIRES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${A_REQUIRES}")
  endif()
endfunction()

aq_slurm_test(slurm.cluster.up SETUP slurm_cluster
  COMMAND bash ${SLURM_TD}/local_cluster.sh up ${SLURM_CLUSTER})
aq_slurm_test(slurm.cluster.down CLEANUP slurm_cluster
  COMMAND bash ${SLURM_TD}/local_cluster.sh down ${SLURM_CLUSTER})

set(SBT bash ${SLURM_TD}/sbatch_test.sh)
set(SBA ${SLURM_CLUSTER} ${CMAKE_BINARY_DIR} ${SLURM_WORK})
aq_slurm_test(slurm.models SETUP slurm_models REQUIRES slurm_cluster COMMAND ${SBT} models ${SBA})
aq_slurm_test(slurm.sbatch.dream7b_int2 REQUIRES "slurm_cluster;slurm_models"
  COMMAND ${SBT} dream ${SBA})
aq_slurm_test(slurm.sbatch.scaling_study REQUIRES "slurm_cluster;slurm_models"
  COMMAND ${SBT} scaling ${SBA})
aq_slurm_test(slurm.sbatch.reference SETUP slurm_reference REQUIRES "slurm_cluster;slurm_models"
  COMMAND ${SBT} reference ${SBA})
aq_slurm_test(slurm.sbatch.cancel_resume REQUIRES "slurm_cluster;slurm_models;slurm_reference"
  COMMAND ${SBT} cancel ${SBA})
aq_slurm_test(slurm.sbatch.requeue_resume REQUIRES "slurm_cluster;slurm_models;slurm_reference"
  COMMAND ${SBT} requeue ${SBA})
# The scripts themselves: syntax and shellcheck (when installed).
aq_slurm_test(slurm.scripts.lint COMMAND bash ${SLURM_TD}/lint.sh)
