/*
 * aq-mpi — every MPI message tag of the project, in one place, so that two protocols never
 * share a tag on one communicator.  Point-to-point messages only (collectives have no tags).
 *
 * Ranks of one job are assumed to share the architecture (a homogeneous cluster): structs
 * travel as MPI_BYTE.
 */
#ifndef AQ_MPI_TAGS_H
#define AQ_MPI_TAGS_H

/*-*********************************************
 *  aq-mpi: results, workers -> rank 0 (src/job/result_msg.c)
 *
 *  For each quantized tensor a worker owns: one AQ_TAG_RESULT header (aq_msg_hdr of
 *  src/job/job_internal.h, kind MSG_RESULT), then the stored arrays of its format
 *  (include/aq/qformat.h), array i under tag AQ_TAG_RESULT_ARRAY0 + i, each in pieces of at
 *  most 1 GiB, and for a row block (row-sharding) its row sums under AQ_TAG_RESULT_SUMS;
 *  at the end one
 *  AQ_TAG_RESULT header of kind MSG_END carrying the worker's status and message.  Rank 0
 *  receives headers from any source; MPI's non-overtaking rule keeps a header and its
 *  payload together.  AQ_TAG_ABORT (one int, rank 0 -> each worker) asks the workers to
 *  stop after the tensor in flight.
 ***********************************************/
enum {
    AQ_TAG_RESULT = 11, /* aq_msg_hdr, MPI_BYTE */
    AQ_TAG_RESULT_ARRAY0 =
        12, /* array i of the format: tag 12 + i (i < AQ_QF_MAX_ARRAYS), MPI_BYTE */
    AQ_TAG_RESULT_SUMS = 16, /* a row block's row sums after its arrays (n_blocks > 1),
                                double as MPI_BYTE */
    AQ_TAG_ABORT = 19        /* one MPI_INT, rank 0 -> worker */
};

/*-*********************************************
 *  GPTQ: a factorization shared by one tensor's row-block owners (src/job/gptq_share.c)
 *
 *  Block 0's owner -> each other block's owner (never rank 0): a record (AQ_TAG_FACTOR_RECORD,
 *  MPI_BYTE: tensor index, rows per piece, aq_gptq_hinv_meta_pack()) then U's n x n floats
 *  row-major in pieces of at most 256 MiB (AQ_TAG_FACTOR_U, MPI_FLOAT), in the sender's plan
 *  order; non-overtaking keeps each pair's factorizations in order.
 ***********************************************/
enum {
    AQ_TAG_FACTOR_RECORD = 4221, /* share_head + meta record, MPI_BYTE */
    AQ_TAG_FACTOR_U = 4222       /* a piece of U, MPI_FLOAT */
};

/*-*********************************************
 *  aq-calib: activation statistics, every rank -> rank 0 (src/model/stats_gather.c)
 *
 *  Rank by rank: the number of layers (AQ_TAG_STATS_COUNT, one MPI_UINT64_T), then per
 *  layer a header (name and input width, AQ_TAG_STATS_LAYER) and its arrays
 *  (AQ_TAG_STATS_DATA: five [T] MPI_DOUBLE, two [T * in] MPI_FLOAT).
 ***********************************************/
enum {
    AQ_TAG_STATS_COUNT = 4201, /* layers that follow, MPI_UINT64_T */
    AQ_TAG_STATS_LAYER = 4202, /* layer header, MPI_BYTE */
    AQ_TAG_STATS_DATA = 4203   /* per-step and per-channel arrays */
};

/*-*********************************************
 *  aq-calib --hessian: layer-input Hessians, every rank -> rank 0 (src/model/hess_stats.c)
 *
 *  Rank by rank (1, 2, ...): the number of Hessians (AQ_TAG_HESS_COUNT, one MPI_UINT64_T),
 *  then per Hessian a header (name, n; n = -1: the sender failed and sends no more,
 *  AQ_TAG_HESS_LAYER) and its packed float32 triangle (AQ_TAG_HESS_DATA, n (n + 1) / 2
 *  MPI_FLOAT in pieces of at most 2^30).
 ***********************************************/
enum {
    AQ_TAG_HESS_COUNT = 4211, /* Hessians that follow, MPI_UINT64_T */
    AQ_TAG_HESS_LAYER = 4212, /* header, MPI_BYTE */
    AQ_TAG_HESS_DATA = 4213   /* packed triangle, MPI_FLOAT */
};

#endif /* AQ_MPI_TAGS_H */
