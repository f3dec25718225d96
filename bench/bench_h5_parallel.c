/*
 * aq-bench-h5par — what the planned parallel-HDF5 output mode (docs/SCALING.md §6) would cost
 * per rank: every rank opens one file through MPI-IO (H5Pset_fapl_mpio), the datasets are
 * created collectively with the job's filters (zstd 32015 at the job's level, then
 * Fletcher32) and chunking (1 MiB, power-of-two rows), and each rank writes its own
 * chunk-aligned row range of every dataset with one collective H5Dwrite, so libhdf5 compresses
 * and checksums each chunk on its writer.  Parallel HDF5 cannot store our already filtered
 * chunks: H5Dwrite_chunk is documented as unsupported there (1.10.8's H5Dpublic.h).
 *
 * The payload is random bytes (2-bit codes of Gaussian weights are nearly incompressible too),
 * shaped like Dream-7B's down_proj codes at 2 bits: 3584 rows x 4736 bytes.  Prints the
 * slowest rank's create and write times and the write rate per rank and in all.
 *
 *     mpirun -n 1 build/aq-bench-h5par --out /tmp/p1.h5
 *     mpirun -n 2 build/aq-bench-h5par --out /tmp/p2.h5
 */
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/h5out.h"

typedef struct {
    const char *out;
    int datasets, level;
    hsize_t rows, cols;
} opts;

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){NULL, 16, 3, 3584, 4736};
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--out") && v)
            o->out = v, ++i;
        else if (!strcmp(a, "--datasets") && v)
            o->datasets = atoi(v), ++i;
        else if (!strcmp(a, "--level") && v)
            o->level = atoi(v), ++i;
        else if (!strcmp(a, "--rows") && v)
            o->rows = (hsize_t)atoll(v), ++i;
        else if (!strcmp(a, "--cols") && v)
            o->cols = (hsize_t)atoll(v), ++i;
        else
            return -1;
    }
    return o->out && o->datasets > 0 && o->level > 0 && o->rows > 0 && o->cols > 0 ? 0 : -1;
}

/* Chunk rows: the largest power of two whose rows fit 1 MiB, at most 256 (aq_h5_chunk_shape). */
static hsize_t chunk_rows(hsize_t cols) {
    hsize_t r = 1;
    while (r * 2 * cols <= ((hsize_t)1 << 20) && r * 2 <= 256)
        r *= 2;
    return r;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; ++i) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        p[i] = (uint8_t)(s >> 24);
    }
}

static hid_t make_dcpl(hsize_t crow, hsize_t cols, int level) {
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    const hsize_t chunk[2] = {crow, cols};
    const unsigned cd = (unsigned)level;
    H5Pset_chunk(p, 2, chunk);
    H5Pset_filter(p, 32015, H5Z_FLAG_MANDATORY, 1, &cd);
    H5Pset_fletcher32(p);
    H5Pset_alloc_time(p, H5D_ALLOC_TIME_INCR); /* parallel filtered writes allow INCR */
    return p;
}

static int run(const opts *o, int rank, int size) {
    const hsize_t crow = chunk_rows(o->cols), nchunks = (o->rows + crow - 1) / crow;
    /* chunk-aligned row ranges: rank r writes chunks [r n / P, (r + 1) n / P) */
    const hsize_t c0 = nchunks * (hsize_t)rank / (hsize_t)size;
    const hsize_t c1 = nchunks * (hsize_t)(rank + 1) / (hsize_t)size;
    const hsize_t r0 = c0 * crow, r1 = c1 * crow < o->rows ? c1 * crow : o->rows;
    const size_t mine = (size_t)(r1 - r0) * (size_t)o->cols;
    uint8_t *buf = malloc(mine ? mine : 1);
    if (!buf) return fprintf(stderr, "rank %d: out of memory\n", rank), 1;
    fill_random(buf, mine, (uint64_t)rank + 1);

    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    /* Collective metadata writes: without them this HDF5 1.10.8 + Open MPI 4.1.4 fails from
     * ~600-768 datasets on, even on 1 rank (OMPIO: "file write failed" in a metadata-cache sync
     * point; ROMIO: segfault in ADIOI_GEN_WriteStrided).  AQ_H5PAR_INDEPENDENT_MD=1 shows it. */
    if (!getenv("AQ_H5PAR_INDEPENDENT_MD")) {
        H5Pset_coll_metadata_write(fapl, 1);
        H5Pset_all_coll_metadata_ops(fapl, 1);
    }
    hid_t f = H5Fcreate(o->out, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return fprintf(stderr, "rank %d: cannot create %s\n", rank, o->out), free(buf), 1;
    hid_t dcpl = make_dcpl(crow, o->cols, o->level);
    const hsize_t dims[2] = {o->rows, o->cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t *d = calloc((size_t)o->datasets, sizeof *d);
    int bad = !d;
    for (int i = 0; !bad && i < o->datasets; ++i) { /* collective: same calls on every rank */
        char name[32];
        snprintf(name, sizeof name, "t%03d", i);
        d[i] = H5Dcreate2(f, name, H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        bad = d[i] < 0;
    }
    const double t1 = MPI_Wtime();
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    const hsize_t start[2] = {r0, 0}, count[2] = {r1 - r0, o->cols};
    hid_t fsel = H5Scopy(space), msel = H5Screate_simple(2, count, NULL);
    if (mine)
        H5Sselect_hyperslab(fsel, H5S_SELECT_SET, start, NULL, count, NULL);
    else
        H5Sselect_none(fsel), H5Sselect_none(msel);
    for (int i = 0; !bad && i < o->datasets; ++i)
        bad = H5Dwrite(d[i], H5T_NATIVE_UINT8, msel, fsel, dxpl, buf) < 0;
    const double t2 = MPI_Wtime();
    for (int i = 0; d && i < o->datasets; ++i)
        if (d[i] > 0) H5Dclose(d[i]);
    H5Sclose(fsel), H5Sclose(msel), H5Sclose(space), H5Pclose(dxpl), H5Pclose(dcpl);
    bad |= H5Fclose(f) < 0;
    const double t3 = MPI_Wtime();
    free(d);
    free(buf);

    double mx[3] = {t1 - t0, t2 - t1, t3 - t0}, all[3];
    int any_bad = 0;
    MPI_Reduce(mx, all, 3, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        const double mb = (double)o->rows * (double)o->cols * o->datasets / 1e6;
        printf("ranks %d: %d datasets of %llu x %llu bytes (chunks of %llu rows), zstd %d + "
               "Fletcher32, %.1f MB raw\n",
               size, o->datasets, (unsigned long long)o->rows, (unsigned long long)o->cols,
               (unsigned long long)crow, o->level, mb);
        printf("create %.3f s   write %.3f s   total with close %.3f s   write rate %.1f MB/s "
               "in all, %.1f MB/s per rank%s\n",
               all[0], all[1], all[2], mb / all[1], mb / all[1] / size,
               any_bad ? "   (FAILED: an HDF5 call returned an error)" : "");
    }
    return any_bad;
}

int main(int argc, char **argv) {
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    opts o;
    aq_err err = {0};
    int rc = 0;
    if (parse(argc, argv, &o) != 0) {
        if (rank == 0)
            fprintf(stderr, "usage: aq-bench-h5par --out FILE.h5 [--datasets N] [--rows R] "
                            "[--cols BYTES] [--level ZSTD]\n");
        rc = 2;
    } else if (aq_h5z_zstd_register(&err) != AQ_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, err.msg);
        rc = 1;
    } else {
        rc = run(&o, rank, size);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return rc;
}
