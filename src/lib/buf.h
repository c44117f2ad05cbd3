/* Bounded byte buffers and read cursors.
 *
 * struct buf is a growable buffer with a hard cap fixed at creation (like curl's dynbuf):
 * appends past the cap fail with -EMSGSIZE and leave the buffer unchanged. Its contents are
 * always NUL-terminated so text parsers may treat them as a C string of length buf_len().
 *
 * struct cursor reads outside data without pointer arithmetic in callers: every getter checks
 * the remaining length, and cursor_done() tells whether everything was consumed. */
#pragma once

#include "lib/common.h"

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;
};

/* Initialises an empty buffer that may hold at most cap bytes. */
void buf_init(struct buf *b, size_t cap);
/* Frees the contents; the buffer may be reused after buf_init(). Accepts a zeroed buffer. */
void buf_free(struct buf *b);
/* Wipes then frees the contents, for buffers that held secrets. */
void buf_free_secret(struct buf *b);
/* Empties the buffer, keeping its allocation. */
void buf_reset(struct buf *b);
/* Appends n bytes; returns 0, or -EMSGSIZE past the cap (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends a C string; same contract as buf_append(). */
int buf_puts(struct buf *b, const char *s);
/* Appends formatted text; same contract as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
/* Returns the NUL-terminated contents (never NULL) and their length. */
const char *buf_str(const struct buf *b);
size_t buf_len(const struct buf *b);
/* Transfers ownership of the NUL-terminated contents to the caller and empties b. */
char *buf_steal(struct buf *b);

struct cursor {
	const unsigned char *p;
	size_t left;
};

/* Starts a cursor over n bytes at p (the bytes must outlive the cursor). */
void cursor_init(struct cursor *c, const void *p, size_t n);
/* Returns true when every byte was consumed. */
bool cursor_done(const struct cursor *c);
/* Reads fixed-size big-endian integers; return 0 or -EBADMSG if too short. */
int cursor_get_u8(struct cursor *c, uint8_t *v);
int cursor_get_u32be(struct cursor *c, uint32_t *v);
int cursor_get_u64be(struct cursor *c, uint64_t *v);
/* Points *p at the next n bytes and skips them; returns 0 or -EBADMSG. */
int cursor_get_bytes(struct cursor *c, size_t n, const void **p);
/* Reads one line (without its '\n'; a final line without '\n' counts). Returns 1 with *line
 * and *len set, 0 at end of data. A NUL byte inside the line is left for the caller to see. */
int cursor_get_line(struct cursor *c, const char **line, size_t *len);

/* Reads text as logical lines: a physical line ending in '\\' continues on the next one (the
 * backslash becomes a space), a trailing '\r' is dropped. */
struct line_joiner {
	struct cursor c;
	struct buf text; /* the current logical line */
	unsigned lineno; /* physical lines read so far */
	unsigned first;	 /* physical line number where text starts */
};

/* Starts reading len bytes at data (which must outlive the joiner); a logical line holds at
 * most cap bytes (longer ones are cut). */
void line_joiner_init(struct line_joiner *j, const char *data, size_t len, size_t cap);
/* Returns 1 with j->text holding the next logical line and j->first its first line number,
 * 0 at the end, or -EBADMSG when physical line j->lineno is not text (the logical line in
 * progress is dropped; reading may go on). */
int line_joiner_next(struct line_joiner *j);
/* Frees the joiner's buffer. */
void line_joiner_free(struct line_joiner *j);
