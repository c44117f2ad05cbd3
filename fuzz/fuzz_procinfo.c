/* Fuzzes the /proc parsers of the process sensor (procinfo.h): stat, status, the cgroup file,
 * container ids, argv joining and tty names. Any input is parsed or refused, in bounds. */
#include "detect/procinfo.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct procinfo_ids ids = { 0 };
	if (procinfo_parse_stat(p, size, &ids) == 0 && strnlen(ids.comm, sizeof(ids.comm)) >= 16)
		abort();
	uint32_t uid, euid;
	(void)procinfo_parse_status(p, size, &uid, &euid);
	const char *cg;
	size_t cl;
	char id[65];
	if (procinfo_cgroup_path(p, size, &cg, &cl) == 0) {
		if (cg < p || cg + cl > p + size)
			abort();
		if (procinfo_container_id(cg, cl, id) == 0 && strlen(id) != 64)
			abort();
	}
	if (procinfo_container_id(p, size, id) == 0 && strlen(id) != 64)
		abort();
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	size_t n = procinfo_join_argv(copy, size);
	if (n > size || memchr(copy, '\0', n))
		abort();
	free(copy);
	uint32_t tty = 0;
	if (size >= 4)
		memcpy(&tty, data, 4);
	char name[16];
	if (procinfo_tty_name(tty, name, sizeof(name)) >= sizeof(name))
		abort();
	return 0;
}
