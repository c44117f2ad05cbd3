/* Fuzzes the authorized_keys editing of remove-authorized-key (respond/authkeys.h) over a
 * whole file: the fingerprint of the first key line is removed, the removed lines are
 * appended back, and the counts must agree at each step. */
#include "respond/authkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fingerprint of the first key line of data, or a fixed one. */
static void first_fingerprint(const char *data, size_t size, char fp[AUTHKEYS_FP_LEN + 1])
{
	struct cursor c;
	const char *line;
	size_t len;

	snprintf(fp, AUTHKEYS_FP_LEN + 1, "SHA256:%s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	cursor_init(&c, data, size);
	while (cursor_get_line(&c, &line, &len) > 0)
		if (authkeys_line_fingerprint(line, len, fp) == 0)
			return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char fp[AUTHKEYS_FP_LEN + 1];
	struct buf kept, back;

	if (size > AUTHKEYS_FILE_MAX)
		return 0;
	first_fingerprint(text, size, fp);
	size_t before = authkeys_count(text, size, fp);
	json_t *removed = json_array();
	buf_init(&kept, AUTHKEYS_FILE_MAX);
	buf_init(&back, 2 * AUTHKEYS_FILE_MAX);
	int r = authkeys_remove(text, size, fp, &kept, removed);
	if (r < 0 || (size_t)r != before || json_array_size(removed) != before)
		abort();
	if (authkeys_count(buf_str(&kept), buf_len(&kept), fp) != 0)
		abort();
	r = authkeys_append(buf_str(&kept), buf_len(&kept), removed, &back);
	if (r < 0 || (before && r == 0))
		abort();
	if (authkeys_count(buf_str(&back), buf_len(&back), fp) == 0 && before)
		abort();
	json_decref(removed);
	buf_free(&kept);
	buf_free(&back);
	return 0;
}
