/* authorized_keys contents as the remove-authorized-key action edits them (act_user.c).
 *
 * The file belongs to the account the action is aimed at, so its bytes are outside data: it
 * is read whole under a cap, split into lines, and each line is parsed by the inventory's
 * authorized_keys parser (inventory/authorized_keys.h), which yields the key's fingerprint
 * as ssh-keygen -l prints it. Lines that are not keys (comments, blanks, damaged lines) are
 * kept byte for byte; only lines whose fingerprint matches are taken out. */
#pragma once

#include "lib/buf.h"

#include <jansson.h>

#define AUTHKEYS_FILE_MAX (1024u * 1024) /* bytes of an authorized_keys file we edit */
#define AUTHKEYS_LINE_MAX (16u * 1024)	 /* a longer line is never a key we match */
#define AUTHKEYS_FP_LEN 50		 /* "SHA256:" and 43 base64 characters */

/* The fingerprint of one line (without its newline) into fp. Returns 0, 1 for a line that
 * holds no key (blank, comment), or -EBADMSG when it is not a valid key line (or longer
 * than AUTHKEYS_LINE_MAX). */
int authkeys_line_fingerprint(const char *line, size_t len, char fp[AUTHKEYS_FP_LEN + 1]);

/* The number of lines of data whose key has fingerprint fp. */
size_t authkeys_count(const char *data, size_t len, const char *fp);

/* Splits data into the lines whose key has fingerprint fp, appended to the JSON array
 * removed (without newlines or trailing white space; each a string, or {"base64": "..."}
 * for a line that is not valid UTF-8, so that it comes back exactly), and the rest, written to kept (which must be
 * empty) with their newlines as they were. Returns the number of lines removed, or
 * -EMSGSIZE when kept is too small, -EINVAL when removed is not an array. */
int authkeys_remove(const char *data, size_t len, const char *fp, struct buf *kept,
		    json_t *removed);

/* The keys that cur holds and old does not (old NULL: every key of cur), by fingerprint: each
 * added key once, in the order of its first line in cur, the first max of them written to
 * fps. Lines that are not keys (comments, blanks, damaged lines) are ignored; a key already
 * in old with other options or another comment is not added. Returns the number of keys
 * added (which may be more than max), or -EFBIG when either text is over AUTHKEYS_FILE_MAX. */
int authkeys_added(const char *old, size_t oldlen, const char *cur, size_t curlen,
		   char (*fps)[AUTHKEYS_FP_LEN + 1], size_t max);

/* Writes data to out (which must be empty) followed by every line of the array lines (as
 * authkeys_remove writes them) that is not already a line of data (so appending twice adds
 * nothing), a newline first when data does not end in one. An element that is not one line
 * of text is refused. Returns the number
 * of lines added, -EINVAL for a bad array or string, or -EMSGSIZE when out is too small. */
int authkeys_append(const char *data, size_t len, const json_t *lines, struct buf *out);
