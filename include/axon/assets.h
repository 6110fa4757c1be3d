/*
 * assets.h - files compiled into the binary (the Makefile's ASSETS, turned
 * into build/gen/assets_gen.c by tools/embed.c), so `./axon` finds Axon's
 * default intent dictionary and sentiment model from any directory.
 * The data is static and read-only; nothing to free.
 */
#ifndef AXON_ASSETS_H
#define AXON_ASSETS_H

#include <stddef.h>

#define ASSET_DEFAULT_TERMS "default_terms.csv"   /* lua/intents/default_terms.csv */
#define ASSET_SENTIMENT_MODEL "sentiment_zh.clf"  /* data/models/sentiment_zh.clf */

/* The bytes of an embedded file by its base name, or NULL. */
const char *asset_get(const char *name, size_t *size);

#endif
