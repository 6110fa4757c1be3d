/* test_sha256.c - sha256() against known digests and libsodium. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/sha256.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *d, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_known_digests(void **state)
{
    (void)state;
    unsigned char d[SHA256_LEN];
    char h[65];
    sha256("", 0, d);
    hex(d, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256("abc", 3, d);
    hex(d, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(two, strlen(two), d);
    hex(d, h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Every length from 0 to 600 (all tail cases around 56 and 64 bytes, and
 * the audit rows' sizes) gives libsodium's digest. */
static void test_matches_libsodium(void **state)
{
    (void)state;
    assert_int_equal(sodium_init() >= 0, 1);
    unsigned char buf[600], a[SHA256_LEN], b[SHA256_LEN];
    randombytes_buf(buf, sizeof buf);
    for (size_t n = 0; n <= sizeof buf; n++) {
        sha256(buf, n, a);
        crypto_hash_sha256(b, buf, n);
        assert_memory_equal(a, b, SHA256_LEN);
    }
    printf("sha256: libcrypto (CPU SHA instructions %s)\n", sha256_hw() ? "present" : "absent");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_digests),
        cmocka_unit_test(test_matches_libsodium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
