/*
 * aq-mpi — private declarations shared by the forward-pass files of src/model.
 */
#ifndef AQ_MODEL_LAYERS_H
#define AQ_MODEL_LAYERS_H

#include "aq/model.h"

typedef struct {
    int L;
    int64_t n_heads, n_kv_heads, head_dim;
    int causal;
} aq_attn_dims;

/*! aq_attention() : out[L, n_heads*hd] = softmax(q k^T / sqrt(hd)) v per head, grouped-query
 *  (query head h reads kv head h / (n_heads/n_kv_heads)), causal or not.
 *  q [L, n_heads*hd], k, v [L, n_kv_heads*hd], after RoPE.  @return : AQ_OK, AQ_E_NOMEM. */
aq_status aq_attention(const aq_attn_dims *d, const float *q, const float *k, const float *v,
                       float *out, aq_err *err);

/*! aq_swiglu() : gate[i] = silu(gate[i]) * up[i]. */
void aq_swiglu(float *gate, const float *up, int64_t n);

#endif
