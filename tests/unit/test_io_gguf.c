/* GGUF writer (include/aq/gguf.h): byte layout parsed back independently, every value type,
 * alignment and padding, the checks llama.cpp's reader makes, no file under the final name on
 * any error.  Also leaves gguf_all_types.gguf in the working directory for the gguf-py check
 * (ctest gguf.types). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aq/gguf.h"
#include "aq_check.h"

#define ALL_TYPES "gguf_all_types.gguf"

typedef struct {
    const unsigned char *p;
    size_t n, at;
} rd;

static uint64_t le(rd *r, int bytes) {
    uint64_t v = 0;
    ck_assert_uint_le(r->at + (size_t)bytes, r->n);
    for (int i = 0; i < bytes; ++i)
        v |= (uint64_t)r->p[r->at + (size_t)i] << (8 * i);
    r->at += (size_t)bytes;
    return v;
}

static void expect_str(rd *r, const char *s) {
    uint64_t n = le(r, 8);
    ck_assert_uint_eq(n, strlen(s));
    ck_assert_int_eq(memcmp(r->p + r->at, s, n), 0);
    r->at += n;
}

static size_t slurp(const char *path, unsigned char *buf, size_t size) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

static void write_all_types(const char *path) {
    aq_err err = {0};
    aq_gguf_writer *w = NULL;
    ck_assert_int_eq(aq_gguf_writer_create(path, 0, &w, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_u8(w, "t.u8", 200, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_i8(w, "t.i8", -100, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_u16(w, "t.u16", 60000, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_i16(w, "t.i16", -30000, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_u32(w, "t.u32", 4000000000u, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_i32(w, "t.i32", -2000000000, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_f32(w, "t.f32", 0.25f, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_bool(w, "t.bool", 7, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_str(w, "t.str", "h\xc3\xa9llo \xe2\x96\x81", &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_u64(w, "t.u64", 0x123456789abcdef0ull, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_i64(w, "t.i64", -5000000000ll, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_f64(w, "t.f64", -1.5, &err), AQ_OK);
    const int32_t ia[3] = {-1, 0, 7};
    const float fa[2] = {1.5f, -2.0f};
    const char *const sa[3] = {"a", "", "\xe2\x96\x81the"};
    ck_assert_int_eq(aq_gguf_kv_array(w, "t.arr_i32", AQ_GGUF_I32, ia, 3, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_array(w, "t.arr_f32", AQ_GGUF_F32, fa, 2, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_str_array(w, "t.arr_str", sa, 3, &err), AQ_OK);
    const int64_t ne_a[2] = {3, 2}, ne_b[2] = {32, 2}, ne_c[1] = {5};
    ck_assert_int_eq(aq_gguf_add_tensor(w, "a", AQ_GGML_F32, 2, ne_a, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_add_tensor(w, "b.q8", AQ_GGML_Q8_0, 2, ne_b, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_add_tensor(w, "c", AQ_GGML_F16, 1, ne_c, &err), AQ_OK);
    float a[6] = {1, 2, 3, 4, 5, 6};
    unsigned char q[68];
    for (int i = 0; i < 68; ++i)
        q[i] = (unsigned char)(i + 1);
    uint16_t c[5] = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500}; /* 1 2 3 4 5 in f16 */
    /* odd splits: across the tensor boundaries */
    ck_assert_int_eq(aq_gguf_write(w, a, 10, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_write(w, (unsigned char *)a + 10, 14, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_write(w, q, 68, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_write(w, c, 10, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_writer_finish(w, &err), AQ_OK);
}

START_TEST(test_layout) {
    write_all_types(ALL_TYPES);
    static unsigned char buf[8192];
    size_t n = slurp(ALL_TYPES, buf, sizeof buf);
    rd r = {buf, n, 0};
    ck_assert_uint_eq(le(&r, 4), 0x46554747u);
    ck_assert_uint_eq(le(&r, 4), 3);
    ck_assert_uint_eq(le(&r, 8), 3);  /* tensors */
    ck_assert_uint_eq(le(&r, 8), 16); /* keys: general.alignment + 15 */
    expect_str(&r, "general.alignment");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_U32);
    ck_assert_uint_eq(le(&r, 4), 32);
    expect_str(&r, "t.u8");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_U8);
    ck_assert_uint_eq(le(&r, 1), 200);
    expect_str(&r, "t.i8");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_I8);
    ck_assert_uint_eq(le(&r, 1), 0x9c); /* -100 */
    r.at += 8 + 5 + 4 + 2 + 8 + 5 + 4 + 2 + 8 + 5 + 4 + 4 + 8 + 5 + 4 + 4 + 8 + 5 + 4 + 4;
    expect_str(&r, "t.bool");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_BOOL);
    ck_assert_uint_eq(le(&r, 1), 1);
    expect_str(&r, "t.str");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_STRING);
    expect_str(&r, "h\xc3\xa9llo \xe2\x96\x81");
    r.at += 8 + 5 + 4 + 8 + 8 + 5 + 4 + 8 + 8 + 5 + 4 + 8;
    expect_str(&r, "t.arr_i32");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_ARRAY);
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_I32);
    ck_assert_uint_eq(le(&r, 8), 3);
    ck_assert_uint_eq(le(&r, 4), 0xffffffffu);
    r.at += 8;
    expect_str(&r, "t.arr_f32");
    r.at += 4 + 4 + 8 + 8;
    expect_str(&r, "t.arr_str");
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_ARRAY);
    ck_assert_uint_eq(le(&r, 4), AQ_GGUF_STRING);
    ck_assert_uint_eq(le(&r, 8), 3);
    expect_str(&r, "a");
    expect_str(&r, "");
    expect_str(&r, "\xe2\x96\x81the");
    /* tensor infos: offsets are the running sums of the sizes padded to 32 */
    const struct {
        const char *name;
        uint32_t nd, type;
        uint64_t ne0, ne1, off;
    } T[3] = {{"a", 2, AQ_GGML_F32, 3, 2, 0},
              {"b.q8", 2, AQ_GGML_Q8_0, 32, 2, 32},
              {"c", 1, AQ_GGML_F16, 5, 0, 128}};
    for (int i = 0; i < 3; ++i) {
        expect_str(&r, T[i].name);
        ck_assert_uint_eq(le(&r, 4), T[i].nd);
        ck_assert_uint_eq(le(&r, 8), T[i].ne0);
        if (T[i].nd == 2) ck_assert_uint_eq(le(&r, 8), T[i].ne1);
        ck_assert_uint_eq(le(&r, 4), T[i].type);
        ck_assert_uint_eq(le(&r, 8), T[i].off);
    }
    size_t data = (r.at + 31) / 32 * 32;
    for (size_t i = r.at; i < data; ++i)
        ck_assert_uint_eq(buf[i], 0);
    ck_assert_uint_eq(n, data + 160); /* 32 + 96 + 32: the last tensor is padded too */
    float a0;
    memcpy(&a0, buf + data + 20, 4);
    ck_assert(a0 == 6.0f);
    ck_assert_uint_eq(buf[data + 24], 0);       /* padding after "a" */
    ck_assert_uint_eq(buf[data + 32], 1);       /* first Q8_0 byte, byte for byte */
    ck_assert_uint_eq(buf[data + 32 + 67], 68); /* last */
    ck_assert_uint_eq(buf[data + 128], 0x00);
    ck_assert_uint_eq(buf[data + 129], 0x3c);
}
END_TEST

static int exists(const char *p) {
    return access(p, F_OK) == 0;
}

START_TEST(test_errors) {
    const char *path = "gguf_errors.gguf";
    aq_err err = {0};
    aq_gguf_writer *w = NULL;
    ck_assert_int_eq(aq_gguf_writer_create(path, 24, &w, &err), AQ_E_VALUE);
    ck_assert_int_eq(aq_gguf_writer_create(path, 64, &w, &err), AQ_OK);
    ck_assert(exists("gguf_errors.gguf.partial"));
    ck_assert_int_eq(aq_gguf_kv_u32(w, "general.alignment", 1, &err), AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "given twice"));
    ck_assert_int_eq(aq_gguf_kv_str(w, "", "x", &err), AQ_E_VALUE);
    ck_assert_int_eq(aq_gguf_kv_array(w, "k", AQ_GGUF_STRING, "x", 1, &err), AQ_E_VALUE);
    const int64_t ne_bad[2] = {48, 2}, ne_ok[2] = {64, 1}, ne5[5] = {1, 1, 1, 1, 1};
    ck_assert_int_eq(aq_gguf_add_tensor(w, "q", AQ_GGML_Q8_0, 2, ne_bad, &err), AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "block size 32"));
    ck_assert_int_eq(aq_gguf_add_tensor(w, "q", AQ_GGML_Q4_K, 2, ne_ok, &err), AQ_E_VALUE);
    ck_assert_int_eq(aq_gguf_add_tensor(w, "five", AQ_GGML_F32, 5, ne5, &err), AQ_E_VALUE);
    char longname[80];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    ck_assert_int_eq(aq_gguf_add_tensor(w, longname, AQ_GGML_F32, 1, ne_ok, &err), AQ_E_VALUE);
    ck_assert_int_eq(aq_gguf_add_tensor(w, "t", AQ_GGML_F32, 2, ne_ok, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_add_tensor(w, "t", AQ_GGML_F16, 1, ne_ok, &err), AQ_E_VALUE);
    float x[64] = {0};
    ck_assert_int_eq(aq_gguf_write(w, x, 100, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_kv_u8(w, "late", 1, &err), AQ_E_VALUE); /* header written */
    /* 156 of 256 bytes: finish fails, names the tensor, removes everything */
    ck_assert_int_eq(aq_gguf_writer_finish(w, &err), AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor t: 100 of 256"));
    ck_assert(!exists(path) && !exists("gguf_errors.gguf.partial"));
    /* too much data */
    ck_assert_int_eq(aq_gguf_writer_create(path, 0, &w, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_add_tensor(w, "t", AQ_GGML_F32, 1, ne_ok, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_write(w, x, sizeof x, &err), AQ_OK);
    ck_assert_int_eq(aq_gguf_write(w, x, 1, &err), AQ_E_VALUE);
    ck_assert_int_eq(aq_gguf_writer_finish(w, &err), AQ_E_VALUE);
    ck_assert(!exists(path) && !exists("gguf_errors.gguf.partial"));
    /* abort */
    ck_assert_int_eq(aq_gguf_writer_create(path, 0, &w, &err), AQ_OK);
    aq_gguf_writer_abort(w);
    ck_assert(!exists(path) && !exists("gguf_errors.gguf.partial"));
    /* unwritable directory */
    ck_assert_int_eq(aq_gguf_writer_create("/nonexistent/x.gguf", 0, &w, &err), AQ_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.gguf.partial"));
}
END_TEST

START_TEST(test_row_bytes) {
    ck_assert_uint_eq(aq_ggml_row_bytes(AQ_GGML_Q4_K, 512), 288);
    ck_assert_uint_eq(aq_ggml_row_bytes(AQ_GGML_Q6_K, 256), 210);
    ck_assert_uint_eq(aq_ggml_row_bytes(AQ_GGML_Q2_K, 256), 84);
    ck_assert_uint_eq(aq_ggml_row_bytes(AQ_GGML_Q5_1, 64), 48);
    ck_assert_uint_eq(aq_ggml_row_bytes(AQ_GGML_BF16, 3), 6);
    ck_assert_uint_eq(aq_ggml_row_bytes(AQ_GGML_Q4_0, 16), 0);
    ck_assert_uint_eq(aq_ggml_row_bytes(99, 32), 0);
    const char *name = NULL;
    ck_assert_int_eq(aq_ggml_type_info(AQ_GGML_Q3_K, NULL, NULL, &name), 0);
    ck_assert_str_eq(name, "Q3_K");
}
END_TEST

int main(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_row_bytes);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
