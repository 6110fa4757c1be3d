/* timefmt.c - time formatting and tolerant, strict-about-values parsing. */
#include "axon/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void time_format_ms(int64_t ms, char out[TIME_TEXT_MAX])
{
    time_t s = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        s -= 1;
    }
    struct tm tm;
    char tmp[96];   /* roomy enough for any int values, as gcc checks */
    gmtime_r(&s, &tm);
    int year = tm.tm_year + 1900;
    if (year >= 0 && year <= 9999) {
        /* Every write stamps several times: digits by hand, not snprintf. */
        const int v[] = {year / 100, year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                         tm.tm_min, tm.tm_sec};
        static const char sep[] = {0, 0, '-', '-', 'T', ':', ':'};
        char *p = out;
        for (int i = 0; i < 7; i++) {
            if (sep[i])
                *p++ = sep[i];
            *p++ = (char)('0' + v[i] / 10);
            *p++ = (char)('0' + v[i] % 10);
        }
        *p++ = '.';
        *p++ = (char)('0' + frac / 100);
        *p++ = (char)('0' + frac / 10 % 10);
        *p++ = (char)('0' + frac % 10);
        *p++ = 'Z';
        *p = '\0';
        return;
    }
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac);
    memcpy(out, tmp, 24);
    out[24] = '\0';
}

void time_format_date(int64_t ms, char out[TIME_TEXT_MAX])
{
    char full[TIME_TEXT_MAX];
    time_format_ms(ms, full);
    memcpy(out, full, 10);
    out[10] = '\0';
}

static int read_num(const char **p, int maxdigits, int *val)
{
    int n = 0, v = 0;
    while (n < maxdigits && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *val = v;
    return n;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* days since 1970-01-01 (proleptic Gregorian), Howard Hinnant's algorithm */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int time_parse(const char *s, enum date_order order, int64_t *ms, int *has_time)
{
    const char *p = s;
    int a, b, c, na, nb, nc;
    while (*p == ' ')
        p++;
    na = read_num(&p, 4, &a);
    if (na == 0 || (*p != '-' && *p != '/' && *p != '.'))
        return -1;
    char sep = *p++;
    nb = read_num(&p, 2, &b);
    if (nb == 0 || *p != sep)
        return -1;
    p++;
    nc = read_num(&p, 4, &c);
    if (nc == 0)
        return -1;
    int y, m, d;
    if (na == 4) {
        if (nc > 2)
            return -1;
        y = a; m = b; d = c;
    } else {
        if (nc != 4 || order == DATE_YMD)
            return -1;   /* ambiguous without a declared order */
        y = c;
        if (order == DATE_MDY) { m = a; d = b; } else { d = a; m = b; }
    }
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    int hh = 0, mi = 0, ss = 0, frac = 0, tz = 0, timed = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        const char *q = p + 1;
        if (isdigit((unsigned char)*q)) {
            p = q;
            timed = 1;
            if (read_num(&p, 2, &hh) == 0 || *p++ != ':')
                return -1;
            if (read_num(&p, 2, &mi) != 2)
                return -1;
            if (*p == ':') {
                p++;
                if (read_num(&p, 2, &ss) != 2)
                    return -1;
                if (*p == '.' || *p == ',') {
                    p++;
                    int digits = 0, v = 0;
                    while (isdigit((unsigned char)*p)) {
                        if (digits < 3) { v = v * 10 + (*p - '0'); digits++; }
                        p++;
                    }
                    if (digits == 0)
                        return -1;
                    while (digits < 3) { v *= 10; digits++; }
                    frac = v;
                }
            }
            if (hh > 23 || mi > 59 || ss > 60)
                return -1;
            if (*p == ' ' && (p[1] == 'A' || p[1] == 'P' || p[1] == 'a' || p[1] == 'p')) {
                int pm = (p[1] == 'P' || p[1] == 'p');
                if ((p[2] != 'M' && p[2] != 'm') || hh < 1 || hh > 12)
                    return -1;
                hh = hh % 12 + (pm ? 12 : 0);
                p += 3;
            }
            if (*p == 'Z' || *p == 'z') {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, th, tm;
                p++;
                if (read_num(&p, 2, &th) != 2)
                    return -1;
                if (*p == ':')
                    p++;
                if (read_num(&p, 2, &tm) != 2 || th > 23 || tm > 59)
                    return -1;
                tz = sign * (th * 60 + tm);
            }
        }
    }
    while (*p == ' ')
        p++;
    if (*p != '\0')
        return -1;
    int64_t days = days_from_civil(y, m, d);
    *ms = ((days * 86400 + hh * 3600 + mi * 60 + ss) - (int64_t)tz * 60) * 1000 + frac;
    if (has_time)
        *has_time = timed;
    return 0;
}

int time_canon_date(const char *s, enum date_order order, char out[TIME_TEXT_MAX])
{
    int64_t ms;
    int timed;
    if (time_parse(s, order, &ms, &timed))
        return -1;
    time_format_date(ms, out);
    return 0;
}

int time_canon_datetime(const char *s, enum date_order order, char out[TIME_TEXT_MAX])
{
    int64_t ms;
    if (time_parse(s, order, &ms, NULL))
        return -1;
    time_format_ms(ms, out);
    return 0;
}
