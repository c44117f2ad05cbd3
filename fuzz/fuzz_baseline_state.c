/* Fuzzes the baseline state file parser (baseline_open on a file of arbitrary bytes): a file
 * that loads must summarize and survive one learning step and a save/reload round trip. */
#include "detect/baseline.h"
#include "lib/fileio.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmp_dir[64];
static char tmp_path[128];

static void remove_dir(void)
{
	char aside[160];
	snprintf(aside, sizeof(aside), "%s.damaged", tmp_path);
	unlink(aside);
	unlink(tmp_path);
	rmdir(tmp_dir);
}

static const char *state_path(void)
{
	if (!tmp_dir[0]) {
		snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/immune-fuzz-baseline-XXXXXX");
		if (!mkdtemp(tmp_dir))
			abort();
		snprintf(tmp_path, sizeof(tmp_path), "%s/baseline.state", tmp_dir);
		atexit(remove_dir);
	}
	return tmp_path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = state_path();
	char aside[160];
	snprintf(aside, sizeof(aside), "%s.damaged", path);
	unlink(aside);
	if (file_write_atomic(path, data, size, 0600) < 0)
		return 0;
	struct baseline_options o = { .state_path = path };
	struct baseline *b = NULL;
	int r = baseline_open(&o, &b);
	if (r == 0) {
		json_decref(baseline_summary(b));
		struct host_event ev;
		struct baseline_anomaly a[2];
		size_t n;
		host_event_init(&ev);
		host_event_reset(&ev, EVENT_PROCESS_EXEC, INT64_C(1795341600000000000));
		host_event_set_str(&ev, EF_IMAGE, "/usr/bin/fuzz");
		baseline_observe(b, &ev, a, &n);
		host_event_free(&ev);
		if (baseline_save(b) < 0)
			abort();
		baseline_free(b);
		b = NULL;
		if (baseline_open(&o, &b) != 0)
			abort(); /* what we wrote must load */
	} else if (r != -EBADMSG) {
		return 0;
	}
	baseline_free(b);
	unlink(path);
	return 0;
}
