/* sha256.c - SHA-256 through OpenSSL's libcrypto, which uses the CPU's SHA
 * instructions where there are any; libsodium if libcrypto fails. */
#include "axon/sha256.h"

#include <openssl/evp.h>
#include <sodium.h>

void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    if (!EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) || len != SHA256_LEN)
        crypto_hash_sha256(out, data, n);
}

bool sha256_hw(void)
{
    /* libcrypto picks its implementation itself; what it picked is not
     * exposed, so tell whether the CPU offers SHA instructions at all. */
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    unsigned a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return (b >> 29) & 1;
#else
    return false;
#endif
}
