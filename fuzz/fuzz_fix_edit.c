/* Fuzzes the fix actions' editors on outside text (src/respond/act_edit.c): the key/value
 * editor (global part, INI section, '=' separator), the cron line editor, and the strict
 * parser of a fix's JSON. Besides not crashing, an edit must be stable: once a setting was
 * written, reading it back gives its value and writing it again changes nothing; a cron line
 * commented out and restored gives the text back. */
#include "respond/act_edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct act_kv settings[] = {
	{ .key = "PermitRootLogin", .value = "no" },
	{ .key = "net.ipv4.ip_forward", .value = "0", .sep = " = " },
	{ .key = "enabled", .value = "false", .sep = "=", .section = "main" },
	{ .key = "PASS_MAX_DAYS", .value = "90 days", .sep = "\t" },
};

static void check_kv(const char *text, size_t len, const struct act_kv *kv)
{
	struct buf out = { 0 }, again = { 0 };
	char value[1100];

	int r = act_kv_set(text, len, kv, &out);
	if (r >= 0) {
		if (act_kv_get(buf_str(&out), buf_len(&out), kv, value, sizeof(value)) != 1 ||
		    strcmp(value, kv->value))
			__builtin_trap();
		int r2 = act_kv_set(buf_str(&out), buf_len(&out), kv, &again);
		if (r2 != 0 && !(r2 == -EFBIG && r == 1))
			__builtin_trap();
		if (r == 0 && (buf_len(&out) != len || memcmp(buf_str(&out), text, len)))
			__builtin_trap();
	}
	act_kv_get(text, len, kv, value, sizeof(value));
	buf_free(&out);
	buf_free(&again);
}

static void check_cron(const char *text, size_t len)
{
	static const char uid[] = "0123456789abcdef0123456789abcdef";
	struct buf out = { 0 }, back = { 0 };
	const char *entry = "* * * * * root /tmp/x";

	act_cron_active(text, len, entry);
	int n = act_cron_disable(text, len, entry, uid, &out);
	if (n > 0) {
		if (act_cron_active(buf_str(&out), buf_len(&out), entry) != 0)
			__builtin_trap();
		/* the text may already hold lines with this mark; only those we added are
		 * known to come back */
		if (!memmem(text, len, ACT_CRON_MARK, strlen(ACT_CRON_MARK)) &&
		    (act_cron_enable(buf_str(&out), buf_len(&out), uid, &back) != n ||
		     buf_len(&back) != len || memcmp(buf_str(&back), text, len)))
			__builtin_trap();
	}
	buf_free(&out);
	buf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		check_kv(text, size, &settings[i]);
	check_cron(text, size);
	if (size <= ACTION_MAX_FIX) {
		char *json = xstrndup(text, size);
		json_t *fix = NULL;
		char err[256];
		if (act_fix_parse(json, &fix, err, sizeof(err)) == 0)
			json_decref(fix);
		free(json);
	}
	return 0;
}
