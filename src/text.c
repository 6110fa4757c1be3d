/* text.c - UTF-8 validation and NFKC/case-fold normalisation (utf8proc). */
#include "axon/text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int text_decode(const char *s, size_t n, int *cp)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s,
                                          (utf8proc_ssize_t)n, &c);
    if (k <= 0 || c < 0)
        return 0;
    *cp = c;
    return (int)k;
}

bool text_valid_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        int cp;
        int k = text_decode(s + i, n - i, &cp);
        if (k == 0)
            return false;   /* utf8proc rejects overlongs and surrogates */
        i += (size_t)k;
    }
    return true;
}

static char *map(const char *s, size_t n, int options)
{
    utf8proc_uint8_t *out = NULL;
    if (!text_valid_utf8(s, n))
        return NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s,
                                      (utf8proc_ssize_t)n, &out, options);
    if (r < 0)
        return NULL;
    return (char *)out;
}

char *text_fold(const char *s, size_t n)
{
    return map(s, n, UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                         UTF8PROC_STABLE);
}

char *text_key(const char *s, size_t n)
{
    char *f = text_fold(s, n);
    if (!f)
        return NULL;
    size_t len = strlen(f), w = 0;
    for (size_t i = 0; i < len;) {
        int cp;
        int k = text_decode(f + i, len - i, &cp);
        if (k == 0)
            break;
        utf8proc_category_t cat = utf8proc_category(cp);
        int keep = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ME) ||
                   (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
        if (keep) {
            memmove(f + w, f + i, (size_t)k);
            w += (size_t)k;
        }
        i += (size_t)k;
    }
    f[w] = '\0';
    return f;
}

size_t text_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

bool text_is_cjk(int cp)
{
    return (cp >= 0x3040 && cp <= 0x30FF) ||   /* kana */
           (cp >= 0x3400 && cp <= 0x4DBF) ||   /* CJK ext A */
           (cp >= 0x4E00 && cp <= 0x9FFF) ||   /* CJK unified */
           (cp >= 0xAC00 && cp <= 0xD7AF) ||   /* hangul */
           (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility ideographs */
           (cp >= 0x20000 && cp <= 0x3134F);   /* ext B..G */
}

bool text_has_words(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int cp = 0, k = text_decode(s + i, n - i, &cp);
        if (k == 0)
            return false;
        utf8proc_category_t c = utf8proc_category(cp);
        if ((c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
            (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO))
            return true;
        i += (size_t)k;
    }
    return false;
}
