/* bench/authz: access policy decisions at scale (docs/access-policy.md, "Speed").
 *
 * Generates 10,000 policies over 1,000 groups and host labels and 100,000 identities (each
 * in a few groups), compiles them, then times at least 1,000,000 random decisions one by
 * one (clock_gettime around each) and prints p50/p99/p99.9 in microseconds, decisions per
 * second, the compile time and the resident memory.
 *
 * usage: authz [DECISIONS] [POLICIES] [IDENTITIES] */
#include "access/policy.h"
#include "lib/buf.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <time.h>

#define N_GROUPS 1000
#define N_ROLES 100
#define N_HOSTS 5000
#define GROUPS_PER_ID 4

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 11) % n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (str_has_prefix(line, "VmRSS:")) {
			int64_t v;
			char *p = str_trim(line + 6);
			char *sp = strchr(p, ' ');
			if (sp)
				*sp = '\0';
			if (parse_i64(p, 0, INT64_MAX, &v) == 0)
				kib = (long)v;
		}
	if (f)
		fclose(f);
	return kib;
}

static const char *const envs[] = { "prod", "stage", "dev" };
static const char *const accounts[] = { "deploy", "postgres", "www", "root", "backup" };
static const char *const teams[] = { "sre", "dev", "data", "sec" };

/* One generated policy, in the language's text. */
static void gen_policy(struct buf *b, unsigned i)
{
	if (i < 4) { /* a few forbids over everyone and every host, as fleets have */
		static const char *const global[] = {
			"forbid compromised {\n  when: context.alerts.critical > 0 or "
			"context.attestation == \"failed\"\n}\n",
			"forbid weak-sudo {\n  action: sudo\n  when: context.posture < 30\n}\n",
			"forbid forward-outside {\n  action: port-forward\n  unless: "
			"context.source in "
			"10.0.0.0/8\n}\n",
			"forbid pci-after-hours {\n  host: label tier=pci\n  unless: context.hour "
			"in "
			"7..19\n}\n",
		};
		buf_puts(b, global[i]);
		return;
	}
	if (i % 50 == 49) { /* about 2% forbids, scoped to a group or a label */
		switch (i % 3) {
		case 0:
			buf_printf(b,
				   "forbid f%u {\n  host: label role=r%u\n  when: "
				   "context.alerts.critical > %u\n}\n",
				   i, rnd(N_ROLES), rnd(3));
			break;
		case 1:
			buf_printf(b,
				   "forbid f%u {\n  principal: group g%u\n  action: sudo\n  when: "
				   "context.posture < %u\n}\n",
				   i, rnd(N_GROUPS), 20 + rnd(30));
			break;
		default:
			buf_printf(
				b,
				"forbid f%u {\n  principal: group g%u\n  host: label env=%s\n}\n",
				i, rnd(N_GROUPS), envs[rnd(3)]);
		}
		return;
	}
	buf_printf(b, "permit p%u {\n  principal: group g%u", i, i % N_GROUPS);
	if (i % 7 == 0)
		buf_printf(b, ", user u%u", rnd(100000));
	buf_puts(b, "\n  action: ");
	switch (rnd(4)) {
	case 0: buf_printf(b, "login as %s, login as $principal", accounts[rnd(5)]); break;
	case 1: buf_printf(b, "login as %s, sudo as %s", accounts[rnd(5)], accounts[rnd(5)]); break;
	case 2: buf_puts(b, "login, port-forward"); break;
	default: buf_printf(b, "sudo-command \"/usr/bin/systemctl restart s%u\"", rnd(10));
	}
	buf_printf(b, "\n  host: label role=r%u, label env=%s\n", rnd(N_ROLES), envs[rnd(3)]);
	switch (rnd(4)) {
	case 0:
		buf_printf(b, "  when: principal.team == \"%s\" and context.posture >= %u\n",
			   teams[rnd(4)], 40 + rnd(40));
		break;
	case 1:
		buf_printf(b, "  when: context.source in 10.%u.0.0/16 or context.hour in %u..%u\n",
			   rnd(4), rnd(8), 12 + rnd(12));
		break;
	case 2:
		buf_puts(
			b,
			"  when: context.weekday in mon..fri and not (principal has contractor)\n");
		break;
	default: break;
	}
	if (rnd(2))
		buf_puts(b,
			 "  unless: context.alerts.critical > 0 or host.label.tier == \"pci\"\n");
	if (i % 10 == 3)
		buf_puts(b, "  grant: required; approvers: group leads; max: 4h\n");
	buf_puts(b, "}\n");
}

struct identity {
	char name[24];
	const char *groups[GROUPS_PER_ID];
	struct access_attr attrs[1];
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int64_t n_dec = 1000000, n_pol = 10000, n_id = 100000;
	if ((argc > 1 && parse_i64(argv[1], 1, 100000000, &n_dec) < 0) ||
	    (argc > 2 && parse_i64(argv[2], 1, 100000, &n_pol) < 0) ||
	    (argc > 3 && parse_i64(argv[3], 1, 10000000, &n_id) < 0)) {
		fprintf(stderr, "usage: authz [DECISIONS] [POLICIES] [IDENTITIES]\n");
		return 2;
	}
	long rss0 = rss_kib();
	struct buf text;
	buf_init(&text, (size_t)1 << 30);
	for (unsigned i = 0; i < (unsigned)n_pol; i++)
		gen_policy(&text, i);

	char err[512];
	double t0 = now_s();
	struct access_policy_builder *b = access_policy_builder_new();
	struct access_policy_set *set = NULL;
	if (access_policy_add(b, "bench.policy", buf_str(&text), buf_len(&text), err, sizeof(err)) <
		    0 ||
	    access_policy_build(b, &set, err, sizeof(err)) < 0) {
		fprintf(stderr, "authz: %s\n", err);
		return 2;
	}
	double compile_s = now_s() - t0;
	size_t text_len = buf_len(&text);
	buf_free(&text);
	malloc_trim(0); /* give back what parsing freed: the figure is the compiled set's */
	long rss_set = rss_kib();

	/* identities: each in GROUPS_PER_ID random groups */
	char(*group_names)[8] = xcalloc(N_GROUPS, sizeof(*group_names));
	for (unsigned g = 0; g < N_GROUPS; g++)
		snprintf(group_names[g], sizeof(group_names[g]), "g%u", g);
	struct identity *ids = xcalloc((size_t)n_id, sizeof(*ids));
	for (int64_t i = 0; i < n_id; i++) {
		snprintf(ids[i].name, sizeof(ids[i].name), "u%lld", (long long)i);
		for (int k = 0; k < GROUPS_PER_ID; k++)
			ids[i].groups[k] = group_names[rnd(N_GROUPS)];
		ids[i].attrs[0] = (struct access_attr){ "team", teams[rnd(4)] };
	}
	/* hosts: hostname, env and role labels, some pci */
	struct access_attr(*labels)[3] = xcalloc(N_HOSTS, sizeof(*labels));
	char(*host_names)[16] = xcalloc(N_HOSTS, sizeof(*host_names));
	char(*roles)[8] = xcalloc(N_ROLES, sizeof(*roles));
	for (unsigned r = 0; r < N_ROLES; r++)
		snprintf(roles[r], sizeof(roles[r]), "r%u", r);
	for (unsigned h = 0; h < N_HOSTS; h++) {
		snprintf(host_names[h], sizeof(host_names[h]), "host-%u", h);
		labels[h][0] = (struct access_attr){ "env", envs[rnd(3)] };
		labels[h][1] = (struct access_attr){ "role", roles[rnd(N_ROLES)] };
		labels[h][2] = (struct access_attr){ "tier", rnd(10) ? "std" : "pci" };
	}

	uint32_t *ns = xcalloc((size_t)n_dec, sizeof(*ns));
	uint64_t allowed = 0;
	double start = now_s();
	for (int64_t i = 0; i < n_dec; i++) {
		const struct identity *id = &ids[rnd((uint32_t)n_id)];
		unsigned h = rnd(N_HOSTS);
		struct access_request req = {
			.principal = { id->name, id->groups, GROUPS_PER_ID, id->attrs, 1 },
			.action = (enum access_action)rnd(ACCESS_ACTION_COUNT),
			.account = accounts[rnd(5)],
			.host = { NULL, host_names[h], labels[h], 3 },
		};
		if (req.action == ACCESS_SUDO_COMMAND)
			req.command = "/usr/bin/systemctl restart s1";
		req.context.now = 1796724000 + (int64_t)rnd(7 * 86400);
		struct sockaddr_in *in = (struct sockaddr_in *)&req.context.source;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl((10u << 24) | (rnd(8) << 16) | rnd(65536));
		req.context.posture = (int)rnd(101);
		req.context.attestation = ACCESS_ATTEST_TRUSTED;
		req.context.open_alerts[ACCESS_SEV_CRITICAL] = rnd(20) == 0;
		req.context.grant = rnd(4) == 0;

		struct access_decision d;
		struct timespec a, z;
		clock_gettime(CLOCK_MONOTONIC, &a);
		access_decide(set, &req, &d);
		clock_gettime(CLOCK_MONOTONIC, &z);
		int64_t dt = (int64_t)(z.tv_sec - a.tv_sec) * 1000000000 + (z.tv_nsec - a.tv_nsec);
		ns[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		allowed += d.allow;
	}
	double wall = now_s() - start;
	double decide_total = 0;
	for (int64_t i = 0; i < n_dec; i++)
		decide_total += ns[i];
	qsort(ns, (size_t)n_dec, sizeof(*ns), cmp_u32);
#define PCT(p) (ns[(size_t)((double)(n_dec - 1) * (p))] / 1000.0)
	printf("policies           %lld (%zu bytes of policy text), identities %lld, groups %d\n",
	       (long long)n_pol, text_len, (long long)n_id, N_GROUPS);
	printf("compile            %.3f s\n", compile_s);
	printf("rss                %ld KiB before, %ld KiB with the compiled set, %ld KiB at end\n",
	       rss0, rss_set, rss_kib());
	printf("decisions          %lld (%.1f%% allowed)\n", (long long)n_dec,
	       100.0 * (double)allowed / (double)n_dec);
	printf("latency            p50 %.2f us, p99 %.2f us, p99.9 %.2f us, max %.2f us\n",
	       PCT(0.5), PCT(0.99), PCT(0.999), ns[n_dec - 1] / 1000.0);
	printf("throughput         %.0f decisions/s in access_decide (%.0f/s with request "
	       "generation)\n",
	       (double)n_dec / (decide_total / 1e9), (double)n_dec / wall);
	free(ns);
	free(ids);
	free(labels);
	free(host_names);
	free(roles);
	free(group_names);
	access_policy_set_free(set);
	return 0;
}
