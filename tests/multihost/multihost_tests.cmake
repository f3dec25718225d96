# Multi-host tests on one machine: two Linux network namespaces joined by a veth pair
# (tests/multihost/netns.sh) stand for two hosts with a shared file system.  Need root
# (CAP_NET_ADMIN); each test skips (exit 77) with the reason where namespaces cannot be made.
set(MH_TD ${CMAKE_SOURCE_DIR}/tests/multihost)
set(MH_WORK ${CMAKE_BINARY_DIR}/multihost-work)
set(MH_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;HDF5_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins;OMP_NUM_THREADS=1")

# 2 hosts x 2 ranks through mpirun + our rsh agent, bit-identical to one host.
add_test(NAME two_host.job
  COMMAND bash ${MH_TD}/two_host_test.sh job ${CMAKE_BINARY_DIR} ${MH_WORK}/job)
set_tests_properties(two_host.job PROPERTIES ENVIRONMENT "${MH_ENV}" TIMEOUT 600
  SKIP_RETURN_CODE 77)

# The local Slurm cluster with one slurmd per namespace: slurm/dream7b_int2.sh over
# --nodes=2 (srun, and mpirun with a SIGUSR1 requeue + resume), bit-identical to --nodes=1.
# Needs slurm-wlm + munge too.  One at a time with the one-node Slurm tests (the CPUs, and
# munged, which the first cluster up starts and its down stops).
add_test(NAME two_host.slurm
  COMMAND bash ${MH_TD}/two_host_test.sh slurm ${CMAKE_BINARY_DIR} ${MH_WORK}/slurm)
set_tests_properties(two_host.slurm PROPERTIES ENVIRONMENT "${MH_ENV}" TIMEOUT 900
  SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm_node)
