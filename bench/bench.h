/* aq-bench subcommands implemented outside aq_bench.c. */
#ifndef AQ_BENCH_H
#define AQ_BENCH_H

/*! aq_bench_phases() : `aq-bench phases ...` (argv[0] is "phases"); see bench_phases.c.
 *  @return : process exit status (0 ok, 1 a run failed, 2 usage). */
int aq_bench_phases(int argc, char **argv);

/*! aq_bench_dq() : `aq-bench dq ...` (argv[0] is "dq"); see bench_dq.c.
 *  @return : process exit status (0 ok, 1 a run failed, 2 usage). */
int aq_bench_dq(int argc, char **argv);

#endif /* AQ_BENCH_H */
