/*
 * sha256.h - SHA-256 of a buffer, with the CPU's SHA instructions when it
 * has them (x86-64 SHA-NI), else libsodium's. The audit chain hashes every
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

/* True when sha256() uses the CPU's instructions (for tests and stats). */
bool sha256_hw(void);

#endif
