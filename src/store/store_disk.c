/* store_disk — verstore's disk-space guard: the flood-stage watermark and out-of-space errors. */
#include "versync/store/store_disk.h"
#include "versync/common/scan.h"

#include "versync/store/store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

bool store_disk_parse_watermark(const char *s, store_disk_watermark *out)
{
    memset(out, 0, sizeof *out);
    size_t n = s ? strlen(s) : 0;
    if (n >= 2 && s[n - 1] == '%') {
        /* digits and one dot only: strtod alone would take " 5", "1e2", "inf" */
        char num[32];
        double p;
        if (n - 1 >= sizeof num || strspn(s, "0123456789.") != n - 1)
            return false;
        memcpy(num, s, n - 1);
        num[n - 1] = '\0';
        if (!scan_double(num, &p) || !(p > 0 && p <= 100))
            return false;
        out->max_used_pct = p;
        return true;
    }
    uint64_t v;
    if (!store_util_parse_bytes(s, &v) || v == 0)
        return false;
    out->min_free = v;
    return true;
}

bool store_disk_over(const char *dir, const store_disk_watermark *w, char *why, size_t whysz)
{
    struct statvfs sv;
    if ((w->max_used_pct <= 0 && w->min_free == 0) || statvfs(dir, &sv) != 0 || sv.f_blocks == 0)
        return false;
    /* f_bavail, not f_bfree: what an unprivileged writer may still use, as
     * Elasticsearch counts usable space. */
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    double used = 100.0 * (double)(sv.f_blocks - sv.f_bavail) / (double)sv.f_blocks;
    bool over = (w->max_used_pct > 0 && used > w->max_used_pct) || (w->min_free && avail < w->min_free);
    if (over)
        snprintf(why, whysz, "%.1f%% used, %llu bytes free", used, (unsigned long long)avail);
    return over;
}

bool store_disk_is_full_error(int rc, const char *dir)
{
    if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG || rc == MDB_MAP_FULL)
        return true;
    struct statvfs sv;
    return rc == EIO && statvfs(dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < ((uint64_t)1 << 20);
}

bool store_disk_preallocate(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? errno : st.st_size > 0 ? posix_fallocate(fd, 0, st.st_size) : 0;
    close(fd);
    errno = rc;
    return rc == 0;
}
