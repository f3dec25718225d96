/* Progress lines and the final summary, printed by rank 0 on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aq/job.h"
#include "aq/qformat.h"
#include "job_internal.h"

#define MB (1024.0 * 1024.0)

static void shape_str(const aq_tensor *t, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < t->ndim && len < n; ++d)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", d ? "x" : "", (long long)t->shape[d]);
    if (t->ndim == 0) snprintf(buf, n, "scalar");
}

void aq_report_quantized(aq_tally *t, const aq_tensor *src, const aq_qresult *r,
                         const aq_config *cfg) {
    char shape[64];
    shape_str(src, shape, sizeof shape);
    double sqnr = r->hdr.metrics.sqnr_db;
    t->n_done++;
    t->n_quantized++;
    t->bytes_in += src->nbytes;
    t->payload_bytes += aq_qresult_bytes(r);
    t->q_bytes += aq_qresult_bytes(r);
    t->weights_quantized += src->numel;
    t->sqnr_sum += isfinite(sqnr) ? sqnr : 0.0;
    if (t->n_quantized == 1 || sqnr < t->sqnr_min) {
        t->sqnr_min = sqnr;
        snprintf(t->sqnr_min_name, sizeof t->sqnr_min_name, "%s", src->name);
    }
    double mbs = r->hdr.seconds > 0 ? src->nbytes / MB / r->hdr.seconds : 0.0;
    t->n_fallback += r->hdr.from_bits > 0 || r->hdr.from_format > 0;
    t->n_gptq += r->hdr.gptq != 0;
    t->n_gptq_factor += r->hdr.gptq > 1 ? (size_t)(r->hdr.gptq - 1) : 0;
    if (r->hdr.bits >= 0 && r->hdr.bits <= 8) t->n_width[r->hdr.bits]++;
    if (r->hdr.format > 0 && r->hdr.format < AQ_QFMT_N) {
        t->n_format[r->hdr.format]++;
        t->n_format_from[r->hdr.format] += r->hdr.from_format > 0;
    }
    if (t->quiet) return;
    const aq_qformat *f = aq_qformat_get(r->hdr.format);
    if (f) /* a ggml block format: its name says everything */
        printf("[%4zu/%zu] rank %-3d %-44s %-12s %-12s  SQNR %6.2f dB  cos %.5f  %8.1f MB/s",
               t->n_done, t->n_total, r->hdr.rank, src->name, shape, f->name, sqnr,
               r->hdr.metrics.cosine, mbs);
    else
        printf("[%4zu/%zu] rank %-3d %-44s %-12s int%d %s g%d%s  SQNR %6.2f dB  cos %.5f  %8.1f "
               "MB/s",
               t->n_done, t->n_total, r->hdr.rank, src->name, shape, r->hdr.bits,
               aq_method_name(cfg->quant.method), cfg->quant.group_size,
               aq_qformat_of(&cfg->quant)->tag, sqnr, r->hdr.metrics.cosine, mbs);
    const aq_qformat *from = aq_qformat_get(r->hdr.from_format);
    if (from)
        printf("  (fallback from %s: rows of %lld not a multiple of %lld)", from->name,
               (long long)r->hdr.cols, (long long)from->row_multiple);
    if (r->hdr.budget) printf("  (chosen by quant.budget_bits)");
    if (cfg->gptq) printf("  %s", r->hdr.gptq ? "gptq" : "(no Hessian: normal search)");
    if (r->hdr.from_bits) {
        const double thr = r->hdr.from_bits == 2 ? cfg->fallback_2bit : cfg->fallback_4bit;
        printf("  (fallback from int%d: weighted rel. error %.4f %s %.4f", r->hdr.from_bits,
               r->hdr.from_err, r->hdr.from_err > thr ? ">" : "<=", thr);
        if (isfinite(r->hdr.from_kl))
            printf(", KL %.4f %s %.4f", r->hdr.from_kl,
                   r->hdr.from_kl > cfg->fallback_kl ? ">" : "<=", cfg->fallback_kl);
        printf(")");
    }
    printf("\n");
    fflush(stdout);
}

void aq_report_passthrough(aq_tally *t, const aq_tensor *src, const aq_config *cfg, int rank) {
    char shape[64];
    shape_str(src, shape, sizeof shape);
    t->n_done++;
    t->n_passthrough++;
    t->bytes_in += src->nbytes;
    t->payload_bytes += src->nbytes;
    if (t->quiet) return;
    printf("[%4zu/%zu] rank %-3d %-44s %-12s passthrough %s", t->n_done, t->n_total, rank,
           src->name, shape, aq_dtype_name(src->dtype));
    if (aq_job_passthrough_by_format(src, cfg))
        printf("  (fallback from %s: rows of %lld fit no ggml block)",
               aq_qformat_get(cfg->quant.format)->name, (long long)src->shape[1]);
    printf("\n");
    fflush(stdout);
}

/* " (GPTQ factorization ..." for a block of a tensor whose blocks share one, else "". */
static const char *shared_note(const aq_plan *p, size_t i, char *buf) {
    const aq_plan_item *it = &p->items[i];
    if (!it->shared) return "";
    if (it->block == 0)
        snprintf(buf, 96, "  (GPTQ factorization made here, sent to the other blocks' ranks");
    else
        snprintf(buf, 96, "  (GPTQ factorization from rank %d",
                 p->items[i - (size_t)it->block].rank);
    return buf;
}

/* The items of a row-sharded plan that are not whole units: tensors and row blocks. */
static void report_items(const aq_plan *p, const aq_checkpoint *m) {
    size_t split = 0, blocks = 0;
    for (size_t i = 0; i < p->n_items; ++i) {
        split += p->items[i].count != p->units[p->items[i].unit].count || p->items[i].n_blocks > 1;
        blocks += p->items[i].n_blocks > 1;
    }
    if (!split) return;
    printf("row-sharding: %zu items, %zu of them row blocks (a unit crossing the end of a rank's "
           "share is split into tensors, a tensor crossing it into row blocks)\n",
           p->n_items, blocks);
    char note[96];
    for (size_t i = 0; i < p->n_items; ++i) {
        const aq_plan_item *it = &p->items[i];
        if (it->count == p->units[it->unit].count && it->n_blocks == 1) continue;
        const aq_tensor *t = aq_checkpoint_tensor(m, p->tensor_order[it->first]);
        if (it->n_blocks > 1)
            printf("  item %4zu  %-40s rows [%lld, %lld) block %d/%d %10.2f MB  -> rank %d%s%s\n",
                   i, t->name, (long long)it->row0, (long long)it->row1, it->block + 1,
                   it->n_blocks, it->work_bytes / MB, it->rank, shared_note(p, i, note),
                   it->shared ? ")" : "");
        else
            printf("  item %4zu  %-40s whole tensor %10.2f MB  -> rank %d\n", i, t->name,
                   it->work_bytes / MB, it->rank);
    }
}

/* The plan's own measure of its balance: the busiest rank's total over the mean. */
static void report_balance(const aq_plan *p) {
    double *load = calloc((size_t)p->n_ranks, sizeof *load), total = 0.0, most = 0.0;
    if (!load || p->n_ranks < 2) {
        free(load);
        return;
    }
    for (size_t i = 0; i < p->n_items; ++i)
        load[p->items[i].rank] += (double)p->items[i].cost, total += (double)p->items[i].cost;
    for (int r = 0; r < p->n_ranks; ++r)
        most = load[r] > most ? load[r] : most;
    if (total > 0.0)
        printf("balance: busiest rank %.3f x the mean (%s)\n", most * p->n_ranks / total,
               p->by_cost ? "estimated GPTQ time; a wait for a shared factorization not counted"
                          : "work bytes");
    free(load);
}

void aq_report_plan(const aq_plan *p, const aq_checkpoint *m) {
    printf("plan: %zu units, %zu tensors, %d ranks (balanced: %s)\n", p->n_units, p->n_tensors,
           p->n_ranks,
           p->spread    ? "estimated GPTQ time, longest first, not contiguous"
           : p->by_cost ? "estimated GPTQ time, contiguous"
                        : "bytes to quantize, and 2-D passthrough bytes to filter");
    for (size_t u = 0, i = 0; u < p->n_units; ++u) {
        while (i < p->n_items && p->items[i].unit < u)
            ++i;
        const int split =
            i < p->n_items && (p->items[i].count != p->units[u].count || p->items[i].n_blocks > 1);
        printf("  unit %4zu  %-40s %3zu tensors %10.2f MB  quantize %10.2f MB  -> ", u,
               p->units[u].name, p->units[u].count, p->units[u].bytes / MB,
               p->units[u].work_bytes / MB);
        if (split)
            printf("split (items below)\n");
        else
            printf("rank %d\n", p->items[i < p->n_items ? i : 0].rank);
    }
    report_items(p, m);
    for (int r = 0; r < p->n_ranks; ++r)
        printf("  rank %4d  %4d units %10.2f MB to quantize%s\n", r, p->rank_units[r],
               p->rank_bytes[r] / MB, p->rank_bytes[r] ? "" : "  (idle: nothing to quantize)");
    report_balance(p);
    fflush(stdout);
}

void aq_report_summary(const aq_tally *t, const aq_h5_run_info *run, const char *out_path,
                       double wall) {
    struct stat sb;
    /* The file is still "<out>.partial" when the summary is printed. */
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", out_path);
    double file_mb = stat(partial, &sb) == 0 ? sb.st_size / MB : 0.0;
    double bpw =
        t->weights_quantized ? 8.0 * (double)t->q_bytes / (double)t->weights_quantized : 0.0;
    printf("\n== aq-mpi summary ==\n");
    printf("tensors       %zu quantized, %zu passthrough, %zu aliases", t->n_quantized,
           t->n_passthrough, t->n_alias);
    if (t->n_resumed)
        printf(" in this run; %zu complete ones kept from the resumed partial file (figures below "
               "cover this run only)",
               t->n_resumed);
    printf("\n");
    printf("bytes in      %.2f MB   payload out %.2f MB   file %.2f MB   ratio %.2fx\n",
           t->bytes_in / MB, t->payload_bytes / MB, file_mb,
           file_mb > 0 ? t->bytes_in / MB / file_mb : 0.0);
    if (t->n_quantized)
        printf("weights       %llu quantized at %.3f bits/weight (all stored arrays), %s "
               "kernels, %zu fallbacks to a wider width or format\n",
               (unsigned long long)t->weights_quantized, bpw, t->simd ? t->simd : "?",
               t->n_fallback);
    if (t->gptq_hessians)
        printf("gptq          %zu tensors by GPTQ (Hessians from %s, %zu factorizations), %zu by "
               "the normal search (no Hessian: embeddings, tied or older-file lm_head)\n",
               t->n_gptq, t->gptq_hessians, t->n_gptq_factor, t->n_quantized - t->n_gptq);
    if (t->n_quantized) {
        printf("widths       ");
        for (int b = 0; b <= 8; ++b)
            if (t->n_width[b]) printf(" int%d %zu tensors;", b, t->n_width[b]);
        printf("\n");
        int any = 0;
        for (int id = 0; id < AQ_QFMT_N; ++id)
            if (t->n_format[id]) {
                printf("%s %s %zu tensors", any ? ";" : "formats      ", aq_qformat_get(id)->name,
                       t->n_format[id]);
                if (t->n_format_from[id])
                    printf(" (%zu by row-length fallback)", t->n_format_from[id]);
                any = 1;
            }
        if (any) printf("\n");
    }
    if (t->n_quantized)
        printf("SQNR          mean %.2f dB over %zu tensors, min %.2f dB (%s)\n",
               t->sqnr_sum / (double)t->n_quantized, t->n_quantized, t->sqnr_min, t->sqnr_min_name);
    printf("wall time     total %.2f s   plan %.3f s   write (rank 0, HDF5+zstd) %.2f s "
           "(passthrough %.2f s)   activation stage %.3f s   source digests %.2f s\n",
           wall, t->t_plan, t->t_write, t->t_write_pass, t->t_act, t->t_digest);
    printf("%-6s %6s %12s %12s %10s %10s %12s\n", "rank", "units", "MB in", "quant s", "send s",
           "total s", "peak RSS MB");
    for (int r = 0; r < run->ranks; ++r)
        printf("%-6d %6d %12.2f %12.2f %10.2f %10.2f %12.1f\n", r, run->units[r],
               run->bytes[r] / MB, run->seconds_quant[r], run->seconds_send[r],
               run->seconds_total[r], run->peak_rss[r] / MB);
    fflush(stdout);
}

void aq_report_act(const aq_act_summary *s, const aq_config *cfg, const aq_act_setup *a) {
    static const char *const SCHED[] = {"linear", "cosine", "mask"};
    double n = s->layers ? (double)s->layers : 1.0;
    printf("\n== time-aware activations (%s statistics, T = %d, K = %d, %s boundaries, %s "
           "schedule) ==\n",
           a->source, a->T, a->K, cfg->tg_boundaries ? "optimized" : "uniform",
           SCHED[cfg->tg_schedule]);
    printf("boundaries    ");
    for (int k = 0; k <= a->K; ++k)
        printf("%d%s", a->bounds[k], k < a->K ? " " : "\n");
    printf("layers        %d with /act, act_bits %d\n", s->layers, cfg->tg_act_bits);
    if (cfg->p1_enabled)
        printf("phase 1       smoothness %.4f -> %.4f (mean over layers); violations after: %d "
               "(high %d, medium %d, low %d)\n",
               s->smooth_before / n, s->smooth_after / n, s->violations, s->high, s->medium,
               s->low);
    else
        printf("phase 1       off\n");
    if (cfg->p2_enabled)
        printf("phase 2       largest per-step log-scale jump %.4f -> %.4f (%.1f %% reduction), "
               "%s window %d\n",
               s->jump_before, s->jump_after,
               s->jump_before > 0 ? 100.0 * (1.0 - s->jump_after / s->jump_before) : 0.0,
               cfg->p2_method == AQ_INTERP_LINEAR  ? "linear"
               : cfg->p2_method == AQ_INTERP_CUBIC ? "cubic"
                                                   : "sigmoid",
               cfg->p2_window);
    else
        printf("phase 2       off (hard switch at boundaries)\n");
    if (cfg->p3_enabled)
        printf("phase 3       loss %.6f -> %.6f (sum over layers), %d/%d layers converged, "
               "at most %d iterations, %d global iterations\n",
               s->p3_loss_before, s->p3_loss_after, s->p3_converged, s->p3_layers, s->p3_iters_max,
               s->global_iterations);
    else
        printf("phase 3       off\n");
    printf("expected err  %.6g -> %.6g (sum over layers of sum_t w_t c(t); initial min/max groups, "
           "hard switch -> final schedule; %+.2f %%)\n",
           s->err_before, s->err_after,
           s->err_before > 0 ? 100.0 * (s->err_after / s->err_before - 1.0) : 0.0);
    fflush(stdout);
}
