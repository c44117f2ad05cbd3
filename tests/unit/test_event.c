/* The event model (detect/event.h) and its OCSF JSON form (detect/event_json.h). */
#include "unit.h"

#include "detect/event.h"
#include "detect/event_json.h"

static void build_exec(struct host_event *ev)
{
	host_event_reset(ev, EVENT_PROCESS_EXEC, INT64_C(1790000000123) * 1000000);
	ev->id = 77;
	host_event_set_str(ev, EF_IMAGE, "/usr/bin/curl");
	host_event_set_str(ev, EF_COMMAND_LINE, "curl -s http://example.test/a.sh");
	host_event_set_int(ev, EF_PID, 4242);
	host_event_set_str(ev, EF_USER, "root");
	host_event_set_str(ev, EF_UID, "0");
	host_event_set_str(ev, EF_PARENT_IMAGE, "/usr/bin/bash");
	host_event_set_int(ev, EF_PPID, 4200);
	host_event_set_str(ev, EF_SENSOR, "process/ebpf");
}

static void test_set_get(void **state)
{
	struct host_event ev;
	size_t len;

	host_event_init(&ev);
	build_exec(&ev);
	assert_string_equal(host_event_get(&ev, EF_IMAGE, &len), "/usr/bin/curl");
	assert_int_equal(len, 13);
	assert_true(host_event_has(&ev, EF_PID));
	assert_string_equal(host_event_get(&ev, EF_PID, NULL), "4242");
	assert_null(host_event_get(&ev, EF_TARGET_FILENAME, &len));
	assert_int_equal(len, 0);
	/* replacing a value keeps the others intact, even when the arena moves */
	char big[5000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	host_event_set_str(&ev, EF_COMMAND_LINE, big);
	assert_string_equal(host_event_get(&ev, EF_IMAGE, NULL), "/usr/bin/curl");
	assert_int_equal(strlen(host_event_get(&ev, EF_COMMAND_LINE, NULL)), sizeof(big) - 1);
	/* embedded NUL cuts the value */
	host_event_set(&ev, EF_TTY, "pts/1\0junk", 10);
	assert_string_equal(host_event_get(&ev, EF_TTY, &len), "pts/1");
	assert_int_equal(len, 5);
	host_event_reset(&ev, EVENT_FILE_CREATE, 1);
	assert_false(host_event_has(&ev, EF_IMAGE));
	host_event_free(&ev);
}

static void test_truncation(void **state)
{
	struct host_event ev;
	size_t chunk = EVENT_MAX_BYTES / 3;
	char *s = xmalloc(chunk);

	memset(s, 'x', chunk);
	host_event_init(&ev);
	host_event_reset(&ev, EVENT_PROCESS_EXEC, 1);
	for (int f = 0; f < 5; f++)
		assert_int_equal(host_event_set(&ev, (enum event_field)f, s, chunk), 0);
	assert_true(ev.truncated);
	assert_true(ev.used <= EVENT_MAX_BYTES);
	assert_string_equal(host_event_get(&ev, EF_IMAGE, NULL),
			    host_event_get(&ev, EF_IMAGE, NULL));
	assert_int_equal(ev.v[EF_IMAGE].len, chunk);
	host_event_free(&ev);
	free(s);
}

static void test_tables(void **state)
{
	assert_int_equal(event_field_by_name("command_line"), EF_COMMAND_LINE);
	assert_int_equal(event_field_by_name("nope"), -ENOENT);
	assert_int_equal(event_kind_by_name("net_accept"), EVENT_NET_ACCEPT);
	assert_int_equal(event_kind_class_uid(EVENT_AUTH_LOGON), 3002);
	assert_string_equal(event_kind_sigma_category(EVENT_PROCESS_EXEC), "process_creation");
	assert_null(event_kind_sigma_category(EVENT_PROCESS_EXIT));
	for (int f = 0; f < EF_COUNT; f++) {
		assert_non_null(event_field_name(f));
		assert_int_equal(event_field_by_name(event_field_name(f)), f);
	}
}

/* The string at a dotted path below o, or NULL. */
static const char *string_at(json_t *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *part = buf, *dot; o && part; part = dot) {
		dot = strchr(part, '.');
		if (dot)
			*dot++ = '\0';
		o = json_object_get(o, part);
	}
	return json_string_value(o);
}

static void test_json_shape(void **state)
{
	struct host_event ev;

	host_event_init(&ev);
	build_exec(&ev);
	json_t *o = host_event_to_json(&ev);
	assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), 1007);
	assert_int_equal(json_integer_value(json_object_get(o, "type_uid")), 100701);
	assert_int_equal(json_integer_value(json_object_get(o, "time")), INT64_C(1790000000123));
	json_t *p = json_object_get(o, "process");
	assert_string_equal(json_string_value(json_object_get(p, "cmd_line")),
			    "curl -s http://example.test/a.sh");
	assert_int_equal(json_integer_value(json_object_get(p, "pid")), 4242);
	assert_string_equal(string_at(o, "process.parent_process.file.path"), "/usr/bin/bash");
	json_t *meta = json_object_get(o, "metadata");
	assert_string_equal(json_string_value(json_object_get(meta, "uid")), "77");
	assert_string_equal(json_string_value(json_object_get(meta, "log_provider")),
			    "process/ebpf");
	json_decref(o);

	/* other classes put the process under actor.process */
	host_event_reset(&ev, EVENT_FILE_MODIFY, 1000000);
	host_event_set_str(&ev, EF_IMAGE, "/usr/bin/vi");
	host_event_set_str(&ev, EF_TARGET_FILENAME, "/etc/passwd");
	host_event_set_str(&ev, EF_FILE_SHA256, "ab12");
	o = host_event_to_json(&ev);
	json_t *actor = json_object_get(json_object_get(o, "actor"), "process");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(actor, "file"), "path")),
		"/usr/bin/vi");
	json_t *file = json_object_get(o, "file");
	assert_string_equal(json_string_value(json_object_get(file, "path")), "/etc/passwd");
	json_t *h = json_array_get(json_object_get(file, "hashes"), 0);
	assert_int_equal(json_integer_value(json_object_get(h, "algorithm_id")), 3);
	assert_string_equal(json_string_value(json_object_get(h, "value")), "ab12");
	json_decref(o);
	host_event_free(&ev);
}

static void test_json_round_trip(void **state)
{
	struct host_event a, b;

	host_event_init(&a);
	host_event_init(&b);
	/* every field of every kind survives the round trip */
	for (int k = 1; k < EVENT_KIND_COUNT; k++) {
		host_event_reset(&a, k, INT64_C(1790000000000) * 1000000);
		a.id = (uint64_t)k;
		for (int f = 0; f < EF_COUNT; f++) {
			if (event_field_flags(f) & EVENT_FIELD_NUMBER)
				host_event_set_int(&a, f, 1000 + f);
			else
				host_event_set_str(&a, f, event_field_name(f));
		}
		char *line = host_event_to_json_line(&a);
		assert_int_equal(host_event_from_json_text(line, strlen(line), &b), 0);
		free(line);
		assert_int_equal(b.kind, k);
		assert_int_equal(b.time_ns, a.time_ns);
		assert_int_equal(b.id, a.id);
		assert_int_equal(b.present, a.present);
		for (int f = 0; f < EF_COUNT; f++)
			assert_string_equal(host_event_get(&b, f, NULL),
					    host_event_get(&a, f, NULL));
	}
	host_event_free(&a);
	host_event_free(&b);
}

/* The line parses to an object equal to the tree form; and it is valid JSON at all. */
static void assert_line_equals_tree(const struct host_event *ev)
{
	char *line = host_event_to_json_line(ev);
	json_error_t err;
	json_t *parsed = json_loads(line, JSON_REJECT_DUPLICATES, &err);
	json_t *tree = host_event_to_json(ev);

	if (!parsed || !json_equal(parsed, tree)) {
		char *want = json_dumps(tree, JSON_COMPACT);
		print_error("line: %s\ntree: %s\nparse: %s\n", line, want,
			    parsed ? "ok" : err.text);
		free(want);
		fail();
	}
	json_decref(parsed);
	json_decref(tree);
	free(line);
}

/* Values that are awkward to write: escapes, control bytes, invalid UTF-8 (the tree form
 * drops such a member and so must the line), numbers that are and are not canonical. */
static const char *const awkward[] = {
	"",
	"plain",
	"say \"hi\"",
	"C:\\dir\\",
	"tab\tnew\nline\rcr\bbs\fff",
	"\x01\x02\x1f\x7f end",
	"/usr/bin/caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	"bad \xff byte",
	"cut \xc3",
	"overlong \xc0\xaf",
	"overlong \xe0\x80\xaf",
	"surrogate \xed\xa0\x80",
	"above \xf4\x90\x80\x80",
	"\xf5\x80\x80\x80",
	"0",
	"-0",
	"012",
	"+5",
	" 5",
	"5 ",
	"42",
	"-42",
	"9223372036854775807",
	"9223372036854775808",
	"-9223372036854775808",
	"-9223372036854775809",
	"99999999999999999999999",
	"1e3",
	"0x10",
	"-",
	"4242abc",
};

static void test_json_line_equals_tree(void **state)
{
	struct host_event ev;
	const size_t n = ARRAY_SIZE(awkward);

	host_event_init(&ev);
	for (int k = 0; k < EVENT_KIND_COUNT; k++) {
		/* each field alone, with each awkward value */
		for (int f = 0; f < EF_COUNT; f++)
			for (size_t i = 0; i < n; i++) {
				host_event_reset(&ev, k, INT64_C(1790000000123) * 1000000);
				host_event_set_str(&ev, f, awkward[i]);
				assert_line_equals_tree(&ev);
			}
		/* every field at once, values rotating through the awkward ones, with and
		 * without id, truncation and an invalid first member of each object */
		for (size_t r = 0; r < n; r++) {
			host_event_reset(&ev, k, (int64_t)r * 999999937 - 5000000000);
			ev.id = r % 2 ? UINT64_MAX - r : 0;
			ev.truncated = r % 3 == 0;
			for (int f = 0; f < EF_COUNT; f++)
				host_event_set_str(&ev, f, awkward[(r + (size_t)f) % n]);
			assert_line_equals_tree(&ev);
			/* half the fields, in a pattern that changes with r */
			ev.present &= UINT64_C(0x5555555555555555) << (r % 2);
			assert_line_equals_tree(&ev);
			ev.present = UINT64_C(1) << (r % EF_COUNT);
			assert_line_equals_tree(&ev);
		}
		/* realistic events: every field, decimal numbers, a SHA-256 */
		host_event_reset(&ev, k, INT64_MIN);
		ev.id = 1;
		for (int f = 0; f < EF_COUNT; f++) {
			if (event_field_flags(f) & EVENT_FIELD_NUMBER)
				host_event_set_int(&ev, f, f % 2 ? INT64_MIN : INT64_MAX - f);
			else
				host_event_set_str(&ev, f, event_field_name(f));
		}
		host_event_set_str(&ev, EF_FILE_SHA256,
				   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b"
				   "934ca495991b7852b855");
		assert_line_equals_tree(&ev);
		host_event_reset(&ev, k, INT64_MAX);
		assert_line_equals_tree(&ev);
	}
	host_event_free(&ev);
}

/* Text as the tree form prints it: when every object's first member is present, the line
 * is byte for byte json_dumps' output (member order included). */
static void test_json_line_bytes(void **state)
{
	struct host_event ev;

	host_event_init(&ev);
	build_exec(&ev);
	host_event_set_str(&ev, EF_COMMAND_LINE, "a \"b\" \\c\t\x01\xc3\xa9");
	char *line = host_event_to_json_line(&ev);
	json_t *tree = host_event_to_json(&ev);
	char *want = json_dumps(tree, JSON_COMPACT);
	assert_string_equal(line, want);
	assert_non_null(strstr(line, "\"cmd_line\":\"a \\\"b\\\" \\\\c\\t\\u0001\xc3\xa9\""));
	free(line);
	free(want);
	json_decref(tree);

	/* invalid UTF-8 drops the member (the object it would open stays, as in the tree) */
	host_event_reset(&ev, EVENT_FILE_MODIFY, 0);
	host_event_set_str(&ev, EF_TARGET_FILENAME, "/tmp/\xff");
	host_event_set_str(&ev, EF_FILE_SHA256, "\xfe");
	line = host_event_to_json_line(&ev);
	assert_non_null(strstr(line, "\"file\":{\"hashes\":[]}"));
	free(line);
	host_event_free(&ev);
}

static void test_json_bad(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"{}",
		"{\"unmapped\":{\"kind\":\"nope\"}}",
		"{\"unmapped\":{\"kind\":3}}",
		"{\"unmapped\":{\"kind\":\"process_exec\"},\"time\":\"x\"}",
		"{\"unmapped\":{\"kind\":\"process_exec\"},\"time\":-5}",
		"{\"unmapped\":{\"kind\":\"process_exec\"},\"process\":{\"pid\":[1]}}",
		"{\"unmapped\":{\"kind\":\"file_create\"},\"file\":{\"hashes\":{}}}",
		"{\"class_uid\":1007,\"activity_id\":1,\"class_uid\":1007}",
		"{\"class_uid\":9999,\"activity_id\":1}",
	};
	struct host_event ev;

	host_event_init(&ev);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(host_event_from_json_text(bad[i], strlen(bad[i]), &ev), -EBADMSG);
	/* class and activity alone pick the first kind that has them */
	const char *ok = "{\"class_uid\":3002,\"activity_id\":1,\"user\":{\"name\":\"bob\"}}";
	assert_int_equal(host_event_from_json_text(ok, strlen(ok), &ev), 0);
	assert_int_equal(ev.kind, EVENT_AUTH_LOGON);
	assert_string_equal(host_event_get(&ev, EF_TARGET_USER, NULL), "bob");
	host_event_free(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_json_line_equals_tree),
		cmocka_unit_test(test_json_line_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
