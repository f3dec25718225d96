/*
 * aq-mpi — helpers shared by the libFuzzer harnesses: one private temp directory.
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[256]; /* set once by fuzz_tmpdir(); the harness is single-threaded */

static void remove_dir(void) {
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            fuzz_path(p, sizeof p, tmp_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp_dir);
}

const char *fuzz_tmpdir(void) {
    if (tmp_dir[0]) return tmp_dir;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/aq-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("fuzz_tmpdir: mkdtemp");
        abort();
    }
    atexit(remove_dir);
    return tmp_dir;
}

void fuzz_path(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

int fuzz_write(const char *dir, const char *name, const void *buf, size_t n) {
    char p[512];
    fuzz_path(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(buf, 1, n, f) : 0;
    return (fclose(f) != 0 || w != n) ? -1 : 0;
}
