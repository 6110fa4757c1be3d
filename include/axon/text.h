/*
 * text.h - UTF-8 checks and the normalisation Axon applies before matching
 * text: NFKC (full-width to half-width, compatibility forms) and Unicode
 * case folding, via utf8proc. Returned strings are malloc'd; the caller
 * frees them.
 */
#ifndef AXON_TEXT_H
#define AXON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Valid UTF-8 with no NUL, no surrogates, no overlongs. */
bool text_valid_utf8(const char *s, size_t n);

/* NFKC + case fold; NULL on invalid UTF-8 or no memory. */
char *text_fold(const char *s, size_t n);

/* Lookup key: folded, with everything but letters, digits and marks removed,
 * so "GTX Pro", "GTXPro" and "gtx-pro" share one key. NULL on bad input. */
char *text_key(const char *s, size_t n);

/* Does valid UTF-8 hold a letter or a digit (anything to score)? */
bool text_has_words(const char *s, size_t n);

/* Number of code points in valid UTF-8. */
size_t text_length(const char *s, size_t n);

/* Is the code point a CJK ideograph, kana or hangul syllable? */
bool text_is_cjk(int cp);

/* Decode one code point at s (n bytes left); returns bytes used, 0 on error. */
int text_decode(const char *s, size_t n, int *cp);

#endif
