/*
 * aq-mpi — the layers of a Llama / Qwen2 block: RMSNorm, RoPE, linear, attention, SwiGLU.
 * Conventions and sources in include/aq/model.h.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "layers.h"

void aq_rmsnorm(float *x, int64_t rows, int64_t n, const float *w, double eps) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *row = x + r * n;
        double ss = 0;
        for (int64_t j = 0; j < n; j++)
            ss += (double)row[j] * row[j];
        float inv = (float)(1.0 / sqrt(ss / (double)n + eps));
        for (int64_t j = 0; j < n; j++)
            row[j] = w[j] * (row[j] * inv);
    }
}

void aq_rope(float *x, int L, int64_t heads, int64_t head_dim, double theta) {
    int64_t half = head_dim / 2;
#pragma omp parallel for schedule(static)
    for (int pos = 0; pos < L; pos++) {
        for (int64_t i = 0; i < half; i++) {
            /* angle in double: the table HF builds in float32 differs by < 1 ulp of cos/sin */
            double ang = pos * pow(theta, -2.0 * (double)i / (double)head_dim);
            float c = (float)cos(ang), s = (float)sin(ang);
            for (int64_t h = 0; h < heads; h++) {
                float *v = x + ((int64_t)pos * heads + h) * head_dim;
                float a = v[i], b = v[i + half];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
    }
}

/* OpenBLAS's own threads (Debian's libopenblasp is the pthreads build) and our OpenMP threads
 * fought for the cores: libgomp's workers spin after each parallel region while OpenBLAS's
 * threads run the next sgemm, and both sides sched_yield.  aq-calib on tinystories-qwen2-4m
 * (64 x 128 tokens, --clean --hessian) took 10.7-23.7 s on 2 cores, 2.6 s with
 * OPENBLAS_NUM_THREADS=1.  So OpenBLAS runs on one thread and the output features are split
 * into fixed slices of AQ_LINEAR_SLICE over our OpenMP threads: each element is still one
 * sgemm's dot product over `in`, and the slices do not depend on the thread count. */
void openblas_set_num_threads(int n);
#define AQ_LINEAR_SLICE 256

void aq_linear_fwd(const float *x, int64_t rows, int64_t in, const float *W, const float *b,
                   int64_t out, float *y) {
    openblas_set_num_threads(1);
    const int64_t slices = (out + AQ_LINEAR_SLICE - 1) / AQ_LINEAR_SLICE;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t s = 0; s < slices; s++) {
        const int64_t o0 = s * AQ_LINEAR_SLICE;
        const int64_t n = out - o0 < AQ_LINEAR_SLICE ? out - o0 : AQ_LINEAR_SLICE;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)n, (blasint)in,
                    1.0f, x, (blasint)in, W + o0 * in, (blasint)in, 0.0f, y + o0, (blasint)out);
    }
    if (!b) return;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < out; j++)
            y[r * out + j] += b[j];
}

/* One query row against all keys of its kv head; p is scratch of L floats. */
static void attend_row(const aq_attn_dims *d, const float *q, const float *k, const float *v, int h,
                       int i, float *p, float *out) {
    int64_t hd = d->head_dim, kvh = h / (d->n_heads / d->n_kv_heads);
    int64_t kstride = d->n_kv_heads * hd;
    const float *qi = q + ((int64_t)i * d->n_heads + h) * hd;
    int n = d->causal ? i + 1 : d->L;
    float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj = k + (int64_t)j * kstride + kvh * hd;
        float s = 0;
        for (int64_t c = 0; c < hd; c++)
            s += qi[c] * kj[c];
        p[j] = s * scale;
        mx = p[j] > mx ? p[j] : mx;
    }
    double sum = 0;
    for (int j = 0; j < n; j++)
        sum += (p[j] = expf(p[j] - mx));
    float inv = (float)(1.0 / sum);
    float *o = out + ((int64_t)i * d->n_heads + h) * hd;
    memset(o, 0, (size_t)hd * sizeof *o);
    for (int j = 0; j < n; j++) {
        const float *vj = v + (int64_t)j * kstride + kvh * hd;
        float w = p[j] * inv;
        for (int64_t c = 0; c < hd; c++)
            o[c] += w * vj[c];
    }
}

aq_status aq_attention(const aq_attn_dims *d, const float *q, const float *k, const float *v,
                       float *out, aq_err *err) {
    int failed = 0;
#pragma omp parallel
    {
        float *p = malloc((size_t)d->L * sizeof *p);
        if (!p) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(2) schedule(static)
        for (int h = 0; h < (int)d->n_heads; h++)
            for (int i = 0; i < d->L; i++)
                if (p) attend_row(d, q, k, v, h, i, p, out);
        free(p);
    }
    return failed ? aq_err_set(err, AQ_E_NOMEM, "attention: out of memory") : AQ_OK;
}

void aq_swiglu(float *gate, const float *up, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
