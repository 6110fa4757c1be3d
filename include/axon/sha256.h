/*
 * sha256.h - SHA-256 of a buffer through OpenSSL's libcrypto, which uses
 * the CPU's SHA instructions where it can. The audit chain hashes every
 * row twice; libsodium's portable code spent 38k instructions on a
 * 600-byte row (10% of an import). Same digests either way.
 * No state; the caller owns both buffers.
 */
#ifndef AXON_SHA256_H
#define AXON_SHA256_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);

/* True when the CPU has SHA instructions (libcrypto then uses them). */
bool sha256_hw(void);

#endif
