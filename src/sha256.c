/* sha256.c - SHA-256 with x86 SHA extensions, libsodium otherwise. */
#include "axon/sha256.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define HW_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

/* The state as the instructions want it: ABEF and CDGH. */
struct hw_state {
    __m128i abef, cdgh;
};

/* 64 rounds on each 64-byte block. Message words are made four at a time:
 * w[t..t+3] from w[t-16..t-1] with sha256msg1 (the sigma0 terms), the
 * w[t-7..t-4] addend, and sha256msg2 (the sigma1 terms). */
HW_TARGET static void hw_blocks(struct hw_state *s, const unsigned char *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef = s->abef, cdgh = s->cdgh;
    for (; nblocks--; p += 64) {
        __m128i w[4], save0 = abef, save1 = cdgh;
        for (int i = 0; i < 16; i++) {
            __m128i m;
            if (i < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
            } else {
                m = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                m = _mm_add_epi32(m, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                m = _mm_sha256msg2_epu32(m, w[(i + 3) & 3]);
            }
            w[i & 3] = m;
            __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0e));
        }
        abef = _mm_add_epi32(abef, save0);
        cdgh = _mm_add_epi32(cdgh, save1);
    }
    s->abef = abef;
    s->cdgh = cdgh;
}

HW_TARGET static void hw_sha256(const unsigned char *data, size_t n, unsigned char out[32])
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    __m128i dcba = _mm_loadu_si128((const __m128i *)&iv[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&iv[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    struct hw_state s = {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xf0)};
    size_t full = n / 64;
    hw_blocks(&s, data, full);
    /* The tail, 0x80, zeros and the length in bits (big-endian). */
    unsigned char last[128] = {0};
    size_t rest = n - full * 64;
    memcpy(last, data + full * 64, rest);
    last[rest] = 0x80;
    size_t tail = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        last[tail - 1 - i] = (unsigned char)(bits >> (8 * i));
    hw_blocks(&s, last, tail / 64);
    /* Back to H0..H7, big-endian. */
    __m128i feba = _mm_shuffle_epi32(s.abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xb1);
    __m128i h03 = _mm_blend_epi16(feba, dchg, 0xf0);
    __m128i h47 = _mm_alignr_epi8(dchg, feba, 8);
    const __m128i bswap32 = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    _mm_storeu_si128((__m128i *)out, _mm_shuffle_epi8(h03, bswap32));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_shuffle_epi8(h47, bswap32));
}

static bool detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return false;
    return (b & bit_SHA) != 0;
}

static int hw = -1;   /* racy first use is harmless: every thread finds the same */

bool sha256_hw(void)
{
    if (hw < 0)
        hw = detect();
    return hw;
}

void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
    if (sha256_hw())
        hw_sha256(data, n, out);
    else
        crypto_hash_sha256(out, data, n);
}

#else

bool sha256_hw(void) { return false; }

void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
    crypto_hash_sha256(out, data, n);
}

#endif
