/* The access request of `immune policy test` (src/cli/policy.c), built from command-line
 * options so that other modes (asking the server instead of deciding locally) reuse it. */
#pragma once

#include "access/policy.h"
#include "lib/common.h"

#include <jansson.h>

#define POLICY_REQ_LIST_MAX 64 /* --group, --attr, --label each */

struct policy_request {
	struct access_request req; /* points into the fields below and into argv */
	const char *groups[POLICY_REQ_LIST_MAX];
	struct access_attr attrs[POLICY_REQ_LIST_MAX];
	struct access_attr labels[POLICY_REQ_LIST_MAX];
	char *owned[2 * POLICY_REQ_LIST_MAX]; /* copies split at '=' */
	size_t n_owned;
	const char *policies; /* --policies DIR */
	bool json;
};

/* Fills r from the options of `immune policy test` (argv[0] is "test"): --policies DIR
 * --principal NAME [--group G]... [--attr k=v]... --action A [--as ACCOUNT] [--command CMD]
 * --host NAME [--host-id ID] [--label k=v]... [--source ADDR] [--posture N]
 * [--alerts critical=N,...] [--attestation S] [--ticket T] [--grant] [--time RFC3339]
 * [--json]. Returns 0, 1 after printing help for --help, or -EINVAL with err set to what is
 * wrong. r borrows argv; free with policy_request_clear. */
int policy_request_parse(int argc, char **argv, struct policy_request *r, char *err,
			 size_t err_len);
void policy_request_clear(struct policy_request *r);
/* The request as JSON: {principal: {name, groups, attributes}, action, account, command,
 * host: {name, id, labels}, context: {time, source, posture, attestation, alerts: {critical,
 * high, medium, low}, ticket, grant}}; unknown values are null. */
json_t *policy_request_json(const struct policy_request *r);
