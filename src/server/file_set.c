/* Loads the catalog directory the server hands to agents (see file_set.h). */
#include "server/file_set.h"
#include "lib/str.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct file_set_entry *)a)->name,
		      ((const struct file_set_entry *)b)->name);
}

static int read_file(int dirfd, const char *name, struct file_set_entry *out)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0; /* skipped */
	if (st.st_size > (off_t)FILE_SET_FILE_MAX)
		return -EFBIG;
	size_t len = (size_t)st.st_size;
	unsigned char *p = xmalloc(len ? len : 1);
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r <= 0) {
			free(p);
			return r < 0 ? -errno : -EIO;
		}
		got += (size_t)r;
	}
	*out = (struct file_set_entry){ .name = xstrdup(name), .content = p, .len = len };
	return 1;
}

#define FILE_SET_DEPTH_MAX 4

static bool name_taken(const struct file_set *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->files[i].name, name) == 0)
			return true;
	return false;
}

static int load_dir(int dirfd, int depth, struct file_set *c, size_t *total);

/* One directory entry: a *.yml file joins the set under its own name; a subdirectory is
 * read in turn (rules are grouped by tactic in the source tree; agents keep them flat). */
static int load_entry(int dirfd, const char *name, int depth, struct file_set *c, size_t *total)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		if (depth == FILE_SET_DEPTH_MAX)
			return -ELOOP;
		_cleanup_close_ int sub =
			openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		return sub < 0 ? -errno : load_dir(sub, depth + 1, c, total);
	}
	if (!str_has_suffix(name, ".yml"))
		return 0;
	if (name_taken(c, name))
		return -EEXIST; /* agents keep the set flat: names must differ */
	if (c->n == FILE_SET_FILES_MAX)
		return -EFBIG;
	c->files = xrealloc(c->files, (c->n + 1) * sizeof(*c->files));
	int r = read_file(dirfd, name, &c->files[c->n]);
	if (r <= 0)
		return r;
	*total += c->files[c->n++].len;
	return *total > FILE_SET_TOTAL_MAX ? -EFBIG : 0;
}

static int load_dir(int dirfd, int depth, struct file_set *c, size_t *total)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d)))
		if (e->d_name[0] != '.')
			r = load_entry(dirfd, e->d_name, depth, c, total);
	closedir(d);
	return r;
}

int file_set_load(const char *dir, struct file_set **out)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct file_set *c = xcalloc(1, sizeof(*c));
	size_t total = 0;
	int r = load_dir(fd, 0, c, &total);
	if (r < 0) {
		file_set_free(c);
		return r;
	}
	sort_array(c->files, c->n, sizeof(*c->files), cmp_file);
	file_set_digest(c->files, c->n, c->digest);
	*out = c;
	return 0;
}

void file_set_digest(const struct file_set_entry *files, size_t n,
		     char hex[FILE_SET_DIGEST_HEX + 1])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < n; i++) {
		unsigned char len[8];
		for (int k = 0; k < 8; k++)
			len[k] = (unsigned char)((uint64_t)files[i].len >> (56 - 8 * k));
		EVP_DigestUpdate(md, files[i].name, strlen(files[i].name) + 1);
		EVP_DigestUpdate(md, len, sizeof(len));
		EVP_DigestUpdate(md, files[i].content, files[i].len);
	}
	unsigned char h[32];
	EVP_DigestFinal_ex(md, h, NULL);
	EVP_MD_CTX_free(md);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

void file_set_free(struct file_set *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->files[i].name);
		free(c->files[i].content);
	}
	free(c->files);
	free(c);
}
