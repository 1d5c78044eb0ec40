/* fuzz_scan — libFuzzer target for the strict scanners (integers, doubles, byte sizes, durations). */
#include "versync/common/scan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input: any bytes, scanned as text (up to the first NUL). Nothing may crash
 * or trip a sanitizer, and what is accepted must be what the grammar says:
 * an accepted integer is all of the text and prints back as the same number;
 * an accepted double is what strtod reads and is finite; a duration is -1 or
 * more; a byte size read bare equals the integer. */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    int64_t i;
    if (scan_int64(s, INT64_MIN, INT64_MAX, &i)) {
        char *end;
        errno = 0;
        long long r = strtoll(s, &end, 10);
        if (errno || *end || r != i || s[0] == '+' || s[0] == ' ')
            abort();
    } else if ((all_digits(s) || (s[0] == '-' && all_digits(s + 1))) && strlen(s) < 19) {
        abort(); /* a plain number that fits was refused */
    }

    uint64_t u;
    bool u_ok = scan_uint64(s, UINT64_MAX, &u);
    if ((u_ok && !all_digits(s)) || (!u_ok && all_digits(s) && strlen(s) < 20))
        abort();

    double d;
    if (scan_double(s, &d)) {
        char *end;
        double r = strtod(s, &end);
        if (*end || r != d || d != d || d - d != 0)
            abort();
    }

    uint64_t b;
    if (scan_bytes(s, SCAN_BARE, &b) && u_ok && b != u)
        abort();
    if (u_ok && !scan_bytes(s, SCAN_BARE, &b))
        abort();

    int64_t ms, ms2;
    bool plain = scan_duration_ms(s, 0, &ms);
    if (plain && ms < -1)
        abort();
    if (plain && (!scan_duration_ms(s, SCAN_FRACTION, &ms2) || ms2 != ms))
        abort(); /* fractions only widen what is accepted */
    free(s);
    return 0;
}
