/* Internals of the access policy engine shared by its parser (policy_parse.c) and its
 * compiler and evaluator (policy.c). Not for other modules. */
#pragma once

#include "access/policy.h"
#include "lib/common.h"

#define POLICY_FILE_MAX (16u << 20) /* bytes per policy file */
#define POLICY_COUNT_MAX 100000u    /* policies in a set */
#define POLICY_DEPTH_MAX 32u	    /* condition nesting */
#define POLICY_STRING_MAX 4096u	    /* quoted strings (commands) */
#define POLICY_VALUE_MAX 256u	    /* label values, attribute values in conditions */

/* What a policy says about accounts in one action item. */
enum acct_kind { ACCT_ANY = 0, ACCT_NAMED, ACCT_SELF };

struct pol_action {
	uint8_t action; /* enum access_action */
	uint8_t acct;	/* enum acct_kind */
	char *account;	/* ACCT_NAMED */
	char *command;	/* ACCESS_SUDO_COMMAND: the exact command line, or NULL for any */
};

enum host_kind { HOST_NAME = 0, HOST_LABEL, HOST_GROUP };

struct pol_host {
	uint8_t kind;
	char *key;   /* HOST_LABEL: the label key; HOST_GROUP: the host group's name */
	char *value; /* HOST_NAME: hostname or host id; HOST_LABEL: the label value */
	unsigned line, col;
	size_t group; /* HOST_GROUP after build: index in the set's host groups */
};

struct pol_principal {
	bool group;
	char *name;
};

/* Attributes a condition may read, resolved at compile time. */
enum attr_id {
	ATTR_P_NAME = 0,
	ATTR_P_ATTR, /* principal.KEY */
	ATTR_H_NAME,
	ATTR_H_ID,
	ATTR_H_LABEL, /* host.label.KEY */
	ATTR_C_HOUR,
	ATTR_C_WEEKDAY,
	ATTR_C_SOURCE,
	ATTR_C_POSTURE,
	ATTR_C_ATTEST,
	ATTR_C_ALERT_LOW, /* + enum access_severity */
	ATTR_C_ALERT_MEDIUM,
	ATTR_C_ALERT_HIGH,
	ATTR_C_ALERT_CRITICAL,
	ATTR_C_TICKET,
	ATTR_C_GRANT,
};

/* The value types of attributes. */
enum vtype { VT_STR = 0, VT_INT, VT_WEEKDAY, VT_ADDR, VT_ATTEST, VT_BOOL };

enum cmp_op { OP_EQ = 0, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

enum node_type {
	N_AND = 0,
	N_OR,
	N_NOT,
	N_BOOL,	    /* the literal true/false (i) */
	N_ATTR,	    /* a boolean attribute read alone (context.grant) */
	N_CMP,	    /* attr op literal */
	N_IN_RANGE, /* attr in i..j */
	N_IN_LIST,  /* attr in [vals a..a+n) */
	N_IN_CIDR,  /* attr in vals a..a+n (CIDRs) */
	N_IN_GROUP, /* principal in group "str" */
	N_HAS,	    /* principal has str / host.label has str */
};

struct cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t prefix;
	uint8_t addr[16];
};

/* A literal of a condition. */
struct cond_val {
	char *s;	  /* the text (strings, and numbers as written) */
	int64_t i;	  /* numbers, weekdays (0 = mon), attestation, booleans */
	bool is_int;	  /* s is a whole decimal number (i holds it) */
	struct cidr cidr; /* VT_ADDR */
};

struct cond_node {
	uint8_t type;	/* enum node_type */
	uint8_t op;	/* N_CMP: enum cmp_op */
	uint8_t attr;	/* enum attr_id */
	uint8_t vtype;	/* enum vtype of attr */
	uint32_t a, b;	/* N_AND/N_OR: children; N_NOT: a; N_IN_LIST/N_IN_CIDR: vals [a, a+b) */
	int64_t lo, hi; /* N_IN_RANGE bounds (inclusive); N_BOOL: lo */
	char *key;	/* ATTR_P_ATTR/ATTR_H_LABEL key; N_IN_GROUP/N_HAS: the name */
	struct cond_val val; /* N_CMP: the literal */
	char *text;	     /* the condition as written (explanations) */
};

/* One condition (when or unless) compiled into a node array. */
struct cond {
	struct cond_node *nodes;
	size_t n, cap;
	struct cond_val *vals;
	size_t n_vals, cap_vals;
	uint32_t root;
	bool present;
};

struct policy {
	struct access_policy_info info; /* name, file, approvers... point into this struct */
	unsigned col;
	struct pol_principal *principals;
	size_t n_principals;
	struct pol_action *actions;
	size_t n_actions;
	struct pol_host *hosts;
	size_t n_hosts;
	struct cond when, unless;
	bool grant_required;
	char **approvers;     /* strv, "group:x" / "user:y" */
	char **create_groups; /* strv */
};

struct hostgroup {
	char *name;
	const char *file;
	unsigned line, col;
	struct pol_host *items; /* HOST_NAME and HOST_LABEL only */
	size_t n_items;
};

struct access_policy_builder {
	char **files; /* strv: file names the policies point to */
	struct policy **policies;
	size_t n_policies, cap_policies;
	struct hostgroup *groups;
	size_t n_groups, cap_groups;
};

/* Parses text into b (policies and host groups appended). Returns 0 or -EINVAL with err. */
int policy_parse(struct access_policy_builder *b, const char *file, const char *text, size_t len,
		 char *err, size_t err_len);
void policy_free(struct policy *p);
void hostgroup_clear(struct hostgroup *g);
void cond_clear(struct cond *c);

/* The index of a set (policy_index.c): which policies may apply to a request's principal,
 * host and action. */
struct policy_index;
struct policy_index *policy_index_build(struct policy *const *pols, size_t n,
					const struct hostgroup *groups);
void policy_index_free(struct policy_index *ix);
typedef void (*policy_list_fn)(const uint32_t *v, uint32_t n, void *arg);
/* Calls fn with every list of policy indices (ascending within a list; a policy may be in
 * several lists) whose principal and host keys req has. Allocates nothing. */
void policy_index_scan(const struct policy_index *ix, const struct access_request *req,
		       policy_list_fn fn, void *arg);
