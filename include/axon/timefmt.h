/*
 * timefmt.h - clock readings and the two text forms Axon stores:
 * dates "YYYY-MM-DD" and instants "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), both of
 * which sort correctly as text. Parsers accept what real exports contain
 * (ISO with '-', '/' or '.', a space or 'T' before the time, offsets) and
 * reject impossible dates. All buffers are the caller's.
 */
#ifndef AXON_TIMEFMT_H
#define AXON_TIMEFMT_H

#include <stdint.h>

#define TIME_TEXT_MAX 32

enum date_order { DATE_YMD, DATE_MDY, DATE_DMY };

int64_t time_now_ms(void);
double time_mono(void);                       /* seconds, monotonic */

void time_format_ms(int64_t ms, char out[TIME_TEXT_MAX]);
void time_format_date(int64_t ms, char out[TIME_TEXT_MAX]);

/* Parse a date or date-time; `order` decides "03/04/2021"-style input
 * (YMD rejects it as ambiguous). Returns 0 and the instant in ms (dates at
 * 00:00 UTC), -1 on bad input. `has_time` (may be NULL) tells which it was. */
int time_parse(const char *s, enum date_order order, int64_t *ms, int *has_time);

/* Canonical forms; 0 on success. */
int time_canon_date(const char *s, enum date_order order, char out[TIME_TEXT_MAX]);
int time_canon_datetime(const char *s, enum date_order order, char out[TIME_TEXT_MAX]);

#endif
