/* Benchmark: evaluating a 200-check catalog against an inventory.
 *
 * Runs over (1) the inventory of this host (or --root DIR) and (2) a synthetic inventory the
 * size of a busy server (2,000 packages, 1,000 sysctl keys, 300 PAM lines, ...), and prints
 * the time per full evaluation (eval_check over every check) and per scan_run (evaluation plus
 * building the report document). Usage: bench_eval [--root DIR] [--iterations N] */
#include "lib/buf.h"
#include "policy/catalog.h"
#include "policy/eval.h"
#include "policy/scan.h"

#include <time.h>

#define NCHECKS 200

static const char *const templates[] = {
	"condition: { table: sshd_config, where: { key: k%d }, expect: { value: { le: 4 } } }",
	"condition: { table: sshd_config, where: { key: k%d, match: \"\" }, expect: { value: { "
	"in: [\"no\", prohibit-password] } } }",
	"condition: { table: packages, rows: none, expect: { name: { in: [telnetd%d, rsh-server, "
	"nis, talk] } } }",
	"condition: { table: sysctl, where: { key: net.ipv4.k%d }, expect: { runtime_value: \"0\", "
	"configured_value: \"0\" } }",
	"condition: { table: file_permissions, where: { path: /etc/f%d }, expect: { mode: { "
	"mode_max: \"0640\" }, uid: 0 } }",
	"condition: { table: users, where: { uid: 0 }, rows: none, expect: { name: { ne: root%d } "
	"} }",
	"condition: { table: mounts, where: { mount_point: /m%d }, expect: { options: { has: "
	"nodev, lacks: exec } } }",
	"condition: { table: pam, where: { module: pam_pwquality.so }, rows: any, expect: { "
	"arguments: { regex: \"retry=[1-3]%d?\" } } }",
	"condition: { any: [ { table: login_defs, where: { key: PASS_MAX_DAYS }, expect: { value: "
	"{ le: 365 } } }, { not: { table: shadow, where: { max_days: { gt: %d } } } } ] }",
	"condition: { table: packages, where: { name: { regex: \"^openssh-server%d?$\" } }, count: "
	"{ ge: 1 } }",
};

static struct catalog *make_catalog(void)
{
	struct buf b;
	buf_init(&b, 1u << 22);
	buf_puts(&b, "checks:\n");
	for (int i = 0; i < NCHECKS; i++) {
		buf_printf(&b,
			   "  - id: bench-%d\n    title: Bench %d\n    section: ssh\n"
			   "    severity: medium\n    description: d\n    rationale: r\n"
			   "    remediation: m\n    mappings: { cis: [\"%d.1\"], soc2: [CC6.1] }\n"
			   "    ",
			   i, i, i % 7 + 1);
		/* the templates are constants of this file */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		buf_printf(&b, templates[i % ARRAY_SIZE(templates)], i);
#pragma GCC diagnostic pop
		buf_puts(&b, "\n");
	}
	struct catalog *cat;
	struct catalog_error err;
	char msg[1024];
	if (catalog_load_buffer("bench.yml", buf_str(&b), buf_len(&b), &cat, &err) < 0) {
		fprintf(stderr, "%s\n", catalog_error_format(&err, msg, sizeof(msg)));
		exit(1);
	}
	buf_free(&b);
	return cat;
}

/* Returns prefix followed by i (a static buffer: one use per json_pack call). */
static const char *nm(const char *prefix, int i)
{
	static char b[64];
	snprintf(b, sizeof(b), "%s%d", prefix, i);
	return b;
}

static void add(json_t *tables, const char *t, json_t *row)
{
	if (!row)
		abort();
	json_array_append_new(json_object_get(tables, t), row);
}

static struct inventory *synthetic(void)
{
	struct inventory *inv = xcalloc(1, sizeof(*inv));
	inv->tables = json_object();
	inv->root = xstrdup("/synthetic");
	size_t n;
	const struct inv_table *t = inv_schema_tables(&n);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(inv->tables, t[i].name, json_array());
	add(inv->tables, "os",
	    json_pack("{s:s, s:s, s:s}", "id", "debian", "family", "debian", "version_id", "12"));
	for (int i = 0; i < 120; i++)
		add(inv->tables, "sshd_config",
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "key", nm("k", i), "value", "3",
			      "source", "file", "match", "", "file", "/etc/ssh/sshd_config", "line",
			      i + 1));
	for (int i = 0; i < 2000; i++)
		add(inv->tables, "packages",
		    json_pack("{s:s, s:s, s:s, s:s}", "name", nm("package-", i), "version", "1.0",
			      "arch", "amd64", "source", "dpkg"));
	for (int i = 0; i < 1000; i++)
		add(inv->tables, "sysctl",
		    json_pack("{s:s, s:s, s:s}", "key", nm("net.ipv4.k", i), "runtime_value", "0",
			      "configured_value", "0"));
	for (int i = 0; i < 200; i++)
		add(inv->tables, "file_permissions",
		    json_pack("{s:s, s:b, s:i, s:i, s:i}", "path", nm("/etc/f", i), "exists", 1,
			      "mode", 0640, "uid", 0, "gid", 0));
	for (int i = 0; i < 60; i++)
		add(inv->tables, "users",
		    json_pack("{s:s, s:i, s:i, s:s}", "name", nm("user", i), "uid",
			      i ? 1000 + i : 0, "gid", 1000 + i, "shell", "/bin/bash"));
	for (int i = 0; i < 60; i++)
		add(inv->tables, "shadow",
		    json_pack("{s:s, s:i}", "name", nm("user", i), "max_days", 99999));
	for (int i = 0; i < 40; i++)
		add(inv->tables, "mounts",
		    json_pack("{s:s, s:s, s:s}", "mount_point", nm("/m", i), "options",
			      "rw,nosuid,nodev,noexec,relatime", "source", "runtime"));
	for (int i = 0; i < 300; i++)
		add(inv->tables, "pam",
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "service", "common-password", "type",
			      "password", "control", "requisite", "module",
			      i % 50 ? "pam_unix.so" : "pam_pwquality.so", "arguments",
			      "retry=3 minlen=14"));
	add(inv->tables, "login_defs",
	    json_pack("{s:s, s:s}", "key", "PASS_MAX_DAYS", "value", "90"));
	return inv;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* CPU time of this thread: the machine may be shared, wall time then overstates. */
static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void bench(const char *label, const struct catalog *cat, const struct inventory *inv,
		  int iterations)
{
	double *ev = xcalloc((size_t)iterations, sizeof(double));
	double *sc = xcalloc((size_t)iterations, sizeof(double));
	double *cpu = xcalloc((size_t)iterations, sizeof(double));
	size_t counts[4] = { 0 };
	for (int it = 0; it < iterations; it++) {
		double t0 = now_ms(), c0 = cpu_ms();
		struct eval_ctx *ctx = eval_new(inv);
		for (size_t i = 0; i < cat->n; i++) {
			struct check_result r;
			eval_check(ctx, cat->checks[i], &r);
			if (it == 0)
				counts[r.status]++;
			check_result_clear(&r);
		}
		eval_free(ctx);
		ev[it] = now_ms() - t0;
		cpu[it] = cpu_ms() - c0;
		t0 = now_ms();
		json_t *doc;
		struct scan_options opt = { 0 };
		if (scan_run(cat, inv, &opt, &doc) < 0)
			exit(1);
		json_decref(doc);
		sc[it] = now_ms() - t0;
	}
	qsort(ev, (size_t)iterations, sizeof(double), cmp_double);
	qsort(sc, (size_t)iterations, sizeof(double), cmp_double);
	qsort(cpu, (size_t)iterations, sizeof(double), cmp_double);
	size_t rows = 0;
	const char *k;
	json_t *v;
	json_object_foreach(inv->tables, k, v)
		rows += json_array_size(v);
	printf("%-10s %zu checks, %zu inventory rows [%zu pass, %zu fail, %zu n/a, %zu error]\n"
	       "  evaluation: CPU median %.3f ms (min %.3f); wall median %.3f ms (min %.3f, "
	       "max %.3f)\n"
	       "  scan_run (evaluation + report document): wall median %.3f ms\n",
	       label, cat->n, rows, counts[0], counts[1], counts[2], counts[3], cpu[iterations / 2],
	       cpu[0], ev[iterations / 2], ev[0], ev[iterations - 1], sc[iterations / 2]);
	free(ev);
	free(sc);
	free(cpu);
}

int main(int argc, char **argv)
{
	const char *root = "/";
	int iterations = 200;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--root") == 0)
			root = argv[i + 1];
		else if (strcmp(argv[i], "--iterations") == 0)
			iterations = (int)strtol(argv[i + 1], NULL, 10);
	}
	if (iterations < 1)
		iterations = 1;
	double t0 = now_ms();
	struct catalog *cat = make_catalog();
	printf("catalog load (%d checks, regexes JIT-compiled): %.2f ms\n", NCHECKS, now_ms() - t0);
	struct inventory *inv;
	struct inv_options opt = { .skip_walk = true };
	if (inventory_collect(root, &opt, &inv) < 0) {
		fprintf(stderr, "cannot collect %s\n", root);
		return 1;
	}
	bench("host", cat, inv, iterations);
	inventory_free(inv);
	inv = synthetic();
	bench("synthetic", cat, inv, iterations);
	inventory_free(inv);
	catalog_free(cat);
	return 0;
}
