/* ids.c - random typed ids and tokens. */
#include "axon/ids.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford */

void id_new(const char *prefix, char out[ID_MAX])
{
    unsigned char r[ID_RANDOM_LEN];
    randombytes_buf(r, sizeof r);
    /* Milliseconds first, so new ids land at the end of the id indexes
     * (one page per commit, not one random page per row); the rest stays
     * random (55 bits), so ids of the same millisecond are not guessable. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 0; i < ID_TIME_LEN; i++)
        r[i] = (unsigned char)(ms >> (5 * (ID_TIME_LEN - 1 - i)));
    int n = snprintf(out, ID_MAX, "%s_", prefix);
    for (int i = 0; i < ID_RANDOM_LEN && n < ID_MAX - 1; i++)
        out[n++] = b32[r[i] & 31];
    out[n] = '\0';
}

bool id_valid(const char *prefix, const char *s)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0 || s[pl] != '_')
        return false;
    s += pl + 1;
    size_t n = strlen(s);
    if (n != ID_RANDOM_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(b32, s[i]) || s[i] == '\0')
            return false;
    return true;
}

void id_token(char *out, size_t outsz, size_t nbytes)
{
    unsigned char r[64];
    if (nbytes > sizeof r)
        nbytes = sizeof r;
    randombytes_buf(r, nbytes);
    sodium_bin2base64(out, outsz, r, nbytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
