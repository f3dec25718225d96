/*
 * aq-mpi — chunks filtered off rank 0 (aq_h5_prefilter_2d) against libhdf5: the same array
 * written through the filter pipeline (H5Dwrite) and pre-filtered (H5Dwrite_chunk) must
 * store byte-identical chunks (zstd 32015 then Fletcher32), and read back identical.
 */
#include <check.h>

#include "aq_check.h"
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/h5out.h"

static char g_dir[256];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aq_h5_prefilter_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Pseudo-random but compressible bytes: a small alphabet, so zstd has work to do. */
static void fill(uint8_t *p, size_t n, unsigned seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)((x >> 16) % 11);
    }
}

/* One tensor with two arrays: codes [rows, cols_u8] u8 and scale [rows, cols_f16] f16. */
typedef struct {
    int64_t rows, cols_u8, cols_f16;
} shape3;

static void write_file(const char *path, const shape3 *s, const void *codes, const void *scale,
                       int prefiltered) {
    aq_h5_root_info root = {.producer = "test",
                            .created = "2026-01-01T00:00:00Z",
                            .config_text = "",
                            .source_model = "m",
                            .ranks = 1,
                            .threads = 1};
    aq_h5_writer *w = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_h5_create(path, 3, &root, &w, &e) == AQ_OK, "%s", e.msg);
    int64_t shape[2] = {s->rows, 8};
    aq_h5_quantized q = {.ndim = 2,
                         .shape = shape,
                         .orig_dtype = AQ_DT_F32,
                         .rows = s->rows,
                         .cols = 8,
                         .n_arrays = 2};
    q.arrays[0] = (aq_qarray){.name = "codes", .row_elems = s->cols_u8, .elem = AQ_ELEM_U8};
    q.arrays[1] = (aq_qarray){.name = "scale", .row_elems = s->cols_f16, .elem = AQ_ELEM_F16};
    void *blobs[2] = {NULL, NULL};
    if (prefiltered) {
        ck_assert(aq_h5_prefilter_2d(s->rows, s->cols_u8, 1, codes, 3, &blobs[0], &q.data_bytes[0],
                                     &e) == AQ_OK);
        ck_assert(aq_h5_prefilter_2d(s->rows, s->cols_f16, 2, scale, 3, &blobs[1], &q.data_bytes[1],
                                     &e) == AQ_OK);
        q.data[0] = blobs[0];
        q.data[1] = blobs[1];
        q.prefiltered = 1;
    } else {
        q.data[0] = codes;
        q.data[1] = scale;
    }
    ck_assert_msg(aq_h5_write_quantized(w, "t", &q, &e) == AQ_OK, "%s", e.msg);
    ck_assert_msg(aq_h5_commit(w, &e) == AQ_OK, "%s", e.msg);
    free(blobs[0]);
    free(blobs[1]);
}

/* Every stored chunk of dataset `ds` in both files: same offsets, filter masks and bytes. */
static int compare_chunks(hid_t fa, hid_t fb, const char *ds) {
    hid_t a = H5Dopen2(fa, ds, H5P_DEFAULT), b = H5Dopen2(fb, ds, H5P_DEFAULT);
    ck_assert(a >= 0 && b >= 0);
    hsize_t na = 0, nb = 0;
    hid_t sp = H5Dget_space(a);
    ck_assert(H5Dget_num_chunks(a, sp, &na) >= 0 && H5Dget_num_chunks(b, sp, &nb) >= 0);
    ck_assert_uint_eq(na, nb);
    for (hsize_t k = 0; k < na; ++k) {
        hsize_t oa[2], ob[2], sa = 0, sb = 0;
        unsigned ma = 9, mb = 9;
        haddr_t ad;
        ck_assert(H5Dget_chunk_info(a, sp, k, oa, &ma, &ad, &sa) >= 0);
        ck_assert(H5Dget_chunk_info(b, sp, k, ob, &mb, &ad, &sb) >= 0);
        ck_assert(oa[0] == ob[0] && oa[1] == ob[1]);
        ck_assert_uint_eq(ma, mb);
        ck_assert_uint_eq(sa, sb);
        char *ba = malloc(sa), *bb = malloc(sb);
        uint32_t fm;
        ck_assert(H5Dread_chunk(a, H5P_DEFAULT, oa, &fm, ba) >= 0);
        ck_assert(H5Dread_chunk(b, H5P_DEFAULT, ob, &fm, bb) >= 0);
        ck_assert_msg(memcmp(ba, bb, sa) == 0, "%s chunk %llu differs", ds, (unsigned long long)k);
        free(ba);
        free(bb);
    }
    H5Sclose(sp);
    H5Dclose(a);
    H5Dclose(b);
    return (int)na;
}

/* Reads dataset `ds` through the filters (zstd decode, Fletcher32 check): the bytes of want. */
static void assert_reads_back(hid_t f, const char *ds, const void *want, size_t n) {
    void *got = malloc(n ? n : 1);
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    ck_assert(d >= 0);
    hid_t type = H5Dget_type(d); /* the stored type: bytes back unconverted */
    if (n) ck_assert(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    ck_assert(memcmp(got, want, n) == 0);
    H5Tclose(type);
    H5Dclose(d);
    free(got);
}

static void both_ways(const shape3 *s, int want_chunks_min) {
    size_t n8 = (size_t)(s->rows * s->cols_u8), n16 = (size_t)(s->rows * s->cols_f16) * 2;
    uint8_t *codes = malloc(n8 ? n8 : 1), *scale = malloc(n16 ? n16 : 1);
    fill(codes, n8, 1);
    fill(scale, n16, 2);
    char pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/libhdf5.h5", g_dir);
    snprintf(pb, sizeof pb, "%s/prefiltered.h5", g_dir);
    write_file(pa, s, codes, scale, 0);
    write_file(pb, s, codes, scale, 1);
    hid_t fa = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT),
          fb = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(fa >= 0 && fb >= 0);
    int nc =
        compare_chunks(fa, fb, "/tensors/t/codes") + compare_chunks(fa, fb, "/tensors/t/scale");
    ck_assert_int_ge(nc, want_chunks_min);
    assert_reads_back(fb, "/tensors/t/codes", codes, n8);
    assert_reads_back(fb, "/tensors/t/scale", scale, n16);
    H5Fclose(fa);
    H5Fclose(fb);
    free(codes);
    free(scale);
}

/* Row-blocked chunks with a short last block (zero-filled edge chunk). */
START_TEST(test_row_chunks) {
    shape3 s = {.rows = 700, .cols_u8 = 3001, .cols_f16 = 377};
    both_ways(&s, 3);
}
END_TEST

/* Rows wider than a chunk: chunks [1, k] split each row, the last one short. */
START_TEST(test_split_rows) {
    shape3 s = {.rows = 3, .cols_u8 = (1 << 20) + 4097, .cols_f16 = 600001};
    both_ways(&s, 12);
}
END_TEST

/* No rows: no chunk at all, both ways. */
START_TEST(test_empty) {
    shape3 s = {.rows = 0, .cols_u8 = 16, .cols_f16 = 2};
    both_ways(&s, 0);
}
END_TEST

/* Row-sharding: blobs of row ranges on chunk boundaries, concatenated, are the whole
 * array's blob byte for byte (short last chunk included); a range off the grid is refused. */
START_TEST(test_row_ranges_concat) {
    const int64_t rows = 1000, cols = 3001;
    uint8_t *a = malloc((size_t)(rows * cols));
    fill(a, (size_t)(rows * cols), 5);
    const int64_t c = aq_h5_chunk_rows(rows, cols, 1);
    ck_assert(c > 1 && c < rows && (c & (c - 1)) == 0); /* a power of two */
    void *whole = NULL, *parts[3] = {NULL}, *joined = NULL;
    uint64_t wb = 0, pb[3] = {0}, jb = 0;
    aq_err e = {0};
    ck_assert(aq_h5_prefilter_2d(rows, cols, 1, a, 3, &whole, &wb, &e) == AQ_OK);
    const int64_t cut[4] = {0, c, 3 * c, rows};
    for (int i = 0; i < 3; ++i)
        ck_assert_msg(aq_h5_prefilter_rows(rows, cut[i], cut[i + 1], cols, 1, a + cut[i] * cols, 3,
                                           &parts[i], &pb[i], &e) == AQ_OK,
                      "%s", e.msg);
    ck_assert(aq_h5_blob_concat((const void *const *)parts, pb, 3, &joined, &jb, &e) == AQ_OK);
    ck_assert_uint_eq(jb, wb);
    ck_assert(memcmp(joined, whole, wb) == 0);
    void *bad = NULL;
    uint64_t bb = 0;
    ck_assert_int_eq(aq_h5_prefilter_rows(rows, 1, c + 1, cols, 1, a + cols, 3, &bad, &bb, &e),
                     AQ_E_VALUE);
    for (int i = 0; i < 3; ++i)
        free(parts[i]);
    free(whole);
    free(joined);
    free(a);
}
END_TEST

/* A blob that does not match the dataset's grid is refused, not stored. */
START_TEST(test_mismatch_refused) {
    uint8_t codes[64 * 4] = {0};
    void *blob = NULL;
    uint64_t nb = 0;
    aq_err e = {0};
    ck_assert(aq_h5_prefilter_2d(64, 4, 1, codes, 3, &blob, &nb, &e) == AQ_OK);
    aq_h5_root_info root = {.producer = "test",
                            .created = "2026-01-01T00:00:00Z",
                            .config_text = "",
                            .source_model = "m",
                            .ranks = 1,
                            .threads = 1};
    char p[300];
    snprintf(p, sizeof p, "%s/bad.h5", g_dir);
    aq_h5_writer *w = NULL;
    ck_assert(aq_h5_create(p, 3, &root, &w, &e) == AQ_OK);
    int64_t shape[2] = {64, 8};
    aq_h5_quantized q = {.ndim = 2,
                         .shape = shape,
                         .orig_dtype = AQ_DT_F32,
                         .rows = 64,
                         .cols = 8,
                         .n_arrays = 1,
                         .prefiltered = 1};
    q.arrays[0] = (aq_qarray){.name = "codes", .row_elems = 4, .elem = AQ_ELEM_U8};
    q.data[0] = blob;
    q.data_bytes[0] = nb - 1; /* truncated */
    ck_assert(aq_h5_write_quantized(w, "t", &q, &e) == AQ_E_HDF5);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor t"));
    aq_h5_abort(w, 0);
    free(blob);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("h5_prefilter");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_row_chunks);
    tcase_add_test(tc, test_split_rows);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_row_ranges_concat);
    tcase_add_test(tc, test_mismatch_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
