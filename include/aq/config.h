/*
 * aq-mpi — job configuration (docs/DESIGN.md §6.4).
 *
 * An INI file with sections [model] [quant] [calib] [timegroups] [phase1] [phase2] [phase3]
 * [output] [run], parsed with inih (https://github.com/benhoyt/inih).  Every key has a
 * default (aq_config_defaults(), documented in docs/CONFIG.md); an unknown section or key,
 * a value of the wrong type or out of range is an error naming the file and line.
 * `--set section.key=value` overrides go through the same validation, named "--set".
 */
#ifndef AQ_CONFIG_H
#define AQ_CONFIG_H

#include <stddef.h>

#include "aq/error.h"
#include "aq/quant.h"

#define AQ_PATH_MAX 4096

typedef enum { AQ_BOUND_UNIFORM = 0, AQ_BOUND_OPTIMIZED = 1 } aq_boundaries;
typedef enum { AQ_SCHED_LINEAR = 0, AQ_SCHED_COSINE = 1, AQ_SCHED_MASK = 2 } aq_schedule;
typedef enum { AQ_TW_ALPHABAR = 0, AQ_TW_UNIFORM = 1 } aq_time_weight;
/* Expected-error model c(t; lo, hi) of the layer inputs (docs/PHASES.md, "Expected error"). */
typedef enum { AQ_ERRMODEL_GAUSSIAN = 0, AQ_ERRMODEL_MIXTURE = 1 } aq_error_model;
typedef enum { AQ_INTERP_LINEAR = 0, AQ_INTERP_CUBIC = 1, AQ_INTERP_SIGMOID = 2 } aq_interp;

typedef struct {
    /* [model] */
    char model_path[AQ_PATH_MAX];
    /* [output] */
    char output_path[AQ_PATH_MAX];
    int compression_level; /* zstd level 1..22 */
    /* [quant] */
    aq_quant_params quant;               /* bits, group_size, method, scale_dtype */
    int quant_embeddings;                /* also quantize embed_tokens and lm_head */
    int fallback;                        /* re-quantize a layer at the next width when too lossy */
    double fallback_2bit, fallback_4bit; /* weighted_rel_err thresholds at 2 and 4 bits */
    char fallback_kl_path[AQ_PATH_MAX];  /* aq-eval --layer-kl JSON, or empty */
    double fallback_kl;                  /* KL threshold (nats) for layers in that file */
    double budget_bits;                  /* > 0: mixed 2/4/8-bit widths for this bits/weight */
    char budget_kl_path[AQ_PATH_MAX];    /* aq-eval --layer-kl JSON as the budget's sensitivity */
    int gptq;                            /* GPTQ (include/aq/gptq.h) where a Hessian exists */
    double gptq_damp;                    /* lambda = gptq_damp * mean(diag H), default 0.01 */
    int gptq_block;                      /* lazy-update block (columns), default 128 */
    int gptq_act_order;                  /* descending diag H with static groups */
    char hessian_path[AQ_PATH_MAX];      /* aq-calib --hessian output; empty: calib.path */
    /* [calib] */
    char calib_path[AQ_PATH_MAX];
    int calib_synthetic;
    int calib_timesteps;    /* T of synthetic statistics */
    int calib_seed;         /* seed of synthetic statistics */
    int calib_skip_missing; /* calib.missing = skip: layers without stats get none */
    /* [timegroups] */
    int tg_count;     /* K >= 1 */
    int tg_min_steps; /* optimized boundaries: steps per group at least */
    aq_boundaries tg_boundaries;
    int tg_act_bits; /* 2..16 */
    aq_schedule tg_schedule;
    aq_time_weight tg_time_weight;
    int tg_t_ref;                  /* reference horizon of the linear schedule */
    aq_error_model tg_error_model; /* c(t; lo, hi): Gaussian or channel mixture */
    /* [phase1] */
    int p1_enabled;
    double p1_threshold;
    /* [phase2] */
    int p2_enabled;
    aq_interp p2_method;
    int p2_window; /* time steps on each side of a boundary */
    /* [phase3] */
    int p3_enabled;
    double p3_markov_weight, p3_entropy_weight, p3_learning_rate, p3_convergence, p3_grad_clip;
    int p3_max_iterations;
    /* [run] */
    int threads; /* 0 = all cores of the rank */
    aq_simd simd;
    char trace_prefix[AQ_PATH_MAX]; /* run.trace: timeline files PREFIX.<rank>.tsv; "": none */
} aq_config;

/*! aq_config_defaults() : fills `c` with every key's documented default. */
void aq_config_defaults(aq_config *c);

/*! aq_config_load() :
 *  Parses the INI file `path` into `c` (which holds defaults or earlier values).
 *  @return : AQ_OK; AQ_E_IO "<path>: <strerror>" when unreadable; AQ_E_CONFIG
 *            "<path>:<line>: <what>" for the first bad line (unknown section/key, bad value,
 *            out of range, syntax). */
aq_status aq_config_load(aq_config *c, const char *path, aq_err *err);

/*! aq_config_set() :
 *  Applies one override "section.key=value" (as given to --set).
 *  @return : AQ_OK or AQ_E_CONFIG "--set <arg>: <what>". */
aq_status aq_config_set(aq_config *c, const char *assignment, aq_err *err);

/*! aq_config_check() : cross-key checks after all overrides (e.g. output.path set,
 *  features this version does not implement).  @return : AQ_OK or AQ_E_CONFIG. */
aq_status aq_config_check(const aq_config *c, aq_err *err);

/*! aq_config_to_ini() :
 *  Writes the effective configuration as INI text (every key, canonical spelling) into a
 *  malloc'ed string owned by the caller.  @return : the string, or NULL when out of memory. */
char *aq_config_to_ini(const aq_config *c);

#endif /* AQ_CONFIG_H */
