/* String helpers: number parsing with ranges, trimming, splitting, string vectors. */
#pragma once

#include "lib/common.h"

/* Parses a whole decimal string into [min, max]; returns 0, -EINVAL (not a number) or
 * -ERANGE. *out is written only on success. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parses a whole unsigned number in base (0 = auto: 0x hex, leading 0 octal). */
int parse_u64(const char *s, int base, uint64_t max, uint64_t *out);
/* Parses an octal file mode such as "0644" or "644" (at most 07777). */
int parse_mode(const char *s, unsigned *out);

/* Returns s without leading/trailing ASCII white space; modifies s in place. */
char *str_trim(char *s);
/* Returns true when s starts with prefix. */
bool str_has_prefix(const char *s, const char *prefix);
/* Returns true when s ends with suffix. */
bool str_has_suffix(const char *s, const char *suffix);
/* Returns true when a and b are equal ignoring ASCII case. */
bool str_case_eq(const char *a, const char *b);
/* Lower-cases ASCII letters in place and returns s. */
char *str_lower(char *s);
/* Returns true when len bytes at s are printable text (no NUL, no control bytes but tab). */
bool str_is_text(const char *s, size_t len);

/* A NULL-terminated vector of owned strings. */
typedef char **strv;

/* Returns the number of strings in v (v may be NULL). */
size_t strv_len(char *const *v);
/* Appends a copy of s to *v. */
void strv_push(strv *v, const char *s);
/* Appends s itself (ownership moves to the vector). */
void strv_push_take(strv *v, char *s);
/* Returns true when v contains s (exact match). */
bool strv_contains(char *const *v, const char *s);
/* Frees v and its strings; accepts NULL. */
void strv_free(strv v);
static inline void strv_freep(strv *v)
{
	strv_free(*v);
}
#define _cleanup_strv_ _cleanup_(strv_freep)

/* Splits s at any byte in seps, dropping empty fields; returns a new vector (never NULL). */
strv str_split(const char *s, const char *seps);
/* Returns true when item is one of the fields of list split at any byte in seps. */
bool str_list_has(const char *list, const char *item, const char *seps, bool ignore_case);
