/* Runs a fuzz target over files and directories of inputs, for regression tests without
 * libFuzzer. Exits 0 when every input ran (crashes abort the process). */
#include "lib/common.h"
#include "lib/buf.h"

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	buf_init(&b, 64u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			break;
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)buf_str(&b), buf_len(&b));
	buf_free(&b);
	return 0;
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *d = opendir(path);
	struct dirent *e;
	int r = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			_cleanup_free_ char *p = xasprintf("%s/%s", path, e->d_name);
			r |= run_path(p, count);
		}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int r = 0;

	for (int i = 1; i < argc; i++)
		r |= run_path(argv[i], &count);
	printf("replayed %u inputs\n", count);
	return r ? 1 : 0;
}
