/* base64url without padding (RFC 4648 section 5), for pins and token secrets. Internal to
 * src/trust. */
#pragma once

#include "lib/common.h"

/* Encoded length of n bytes. */
static inline size_t b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Writes b64url_len(n) characters and a NUL to out. */
static inline void b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		if (left > 1)
			out[o++] = alpha[(v >> 6) & 63];
		if (left > 2)
			out[o++] = alpha[v & 63];
	}
	out[o] = '\0';
}

static inline int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes exactly b64url_len(n) characters at in into n bytes. Strict: only the alphabet, and
 * the unused low bits of the last character must be zero (one text per value). Returns 0 or
 * -EINVAL; out may be partly written on failure (callers use scratch space). */
static inline int b64url_decode(const char *in, size_t n, unsigned char *out)
{
	size_t len = b64url_len(n), o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < len; i++) {
		int v = b64url_value(in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < n)
				out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (o != n || acc != 0)
		return -EINVAL;
	return 0;
}
