/* store_disk — verstore's disk-space guard: Elasticsearch's flood-stage watermark on the data directory, and telling "out of space" from other storage failures. */
#ifndef VERSYNC_STORE_DISK_H
#define VERSYNC_STORE_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Like cluster.routing.allocation.disk.watermark.flood_stage: a percentage
 * of the filesystem in use, or an amount of space that must stay free.
 * Both zero: no watermark. */
typedef struct store_disk_watermark {
    double max_used_pct; /* writes are refused when usage is above this (0 < p <= 100) */
    uint64_t min_free;   /* ... or when fewer bytes than this are available */
} store_disk_watermark;

/* Parse "95%" or "95.5%" (usage) or "500mb" / "1g" / "4096" (free bytes, the
 * suffixes of --max-body). False on anything else. */
bool store_disk_parse_watermark(const char *s, store_disk_watermark *out);

/* Whether the filesystem holding `dir` is past watermark `w` (false when
 * none is set, or when statvfs fails: an unknown state blocks nothing, the
 * commit itself will report a real lack of space). When past it, a short
 * description ("97.1% used, 1048576 bytes free") goes to `why`. */
bool store_disk_over(const char *dir, const store_disk_watermark *w, char *why, size_t whysz);

/* Whether an LMDB or errno code from a write transaction on the data
 * directory `dir` means there is no room: ENOSPC, EDQUOT, EFBIG (a file size
 * limit), MDB_MAP_FULL, or EIO while the filesystem has less than 1 MiB
 * available (LMDB turns the short write of a filling disk into EIO). */
bool store_disk_is_full_error(int rc, const char *dir);

/* Allocate the blocks of an existing sparse file (LMDB's lock.mdb), so a
 * later first touch of one of its mapped pages cannot fail with SIGBUS on a
 * full filesystem. False (errno set) when that fails; best effort. */
bool store_disk_preallocate(const char *path);

#endif
