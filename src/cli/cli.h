/* The immune command: one file per subcommand, dispatched from the table in main.c.
 * Exit codes: 0 ok, 1 findings or denied, 2 usage or runtime error. */
#pragma once

#include "lib/common.h"

enum { EXIT_OK = 0, EXIT_FINDINGS = 1, EXIT_ERROR = 2 };

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Prints "immune <cmd>: msg" plus a pointer to --help on stderr and returns EXIT_ERROR. */
int cli_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* Reports an unknown framework key with the list of valid ones (cli_usage_error). */
int cli_unknown_framework(const char *cmd, const char *key);
/* Returns true when output should be coloured (stdout is a terminal and NO_COLOR unset). */
bool cli_color(void);

int cmd_inventory(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_checks(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_findings(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_alerts(int argc, char **argv);
int cmd_alert(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_respond(int argc, char **argv);
int cmd_actions(int argc, char **argv);
int cmd_action(int argc, char **argv);
int cmd_playbooks(int argc, char **argv);
int cmd_ssh(int argc, char **argv);
int cmd_access(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_policy(int argc, char **argv);
/* users.c: immune user, immune group, and the server verbs of immune policy (push, list,
 * test --server; argv[1] is the verb) */
int cmd_user(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_policy_fleet(int argc, char **argv);

struct catalog;
/* Loads the catalog at path (NULL: the installed catalog, else the source tree's), printing
 * "file:line:col: check ID: message" on error. Returns 0 or a negative errno (logged). */
int cli_load_catalog(const char *path, struct catalog **out);

/* ---- fleet commands (fleet.c): the server's API through cli/api_client.h ---- */

#include <jansson.h>

struct api_config;
/* Loads the client configuration (--server-config path, else $IMMUNE_SERVER_CONFIG, else
 * ~/.config/immune/server.yaml), printing "immune <cmd>: what and where" on error. Returns
 * 0 or EXIT_ERROR. */
int fleet_config(const char *cmd, const char *path, struct api_config **out);
/* Performs one API request (api_request()), printing "immune <cmd>: why" on error.
 * Returns 0 with *answer, or EXIT_ERROR. */
int fleet_call(const char *cmd, const struct api_config *cfg, const char *method, const char *path,
	       const json_t *body, json_t **answer);
/* Prints doc indented on standard output; returns EXIT_OK or EXIT_ERROR on a write error. */
/* The API path of a host given by id or by hostname (looked up in GET /v1/hosts; a name
 * two hosts share is refused), with "/sub" appended when sub is set. Returns 0 with *path
 * (caller frees), or the exit code after printing why. */
int fleet_host_path(const char *cmd, const struct api_config *cfg, const char *host,
		    const char *sub, char **path);
int fleet_print_json(const json_t *doc);
/* GET base with the query keys[i]=vals[i] for each vals[i] set (escaped), then prints the
 * answer: as JSON with json, else through print. Returns EXIT_OK or the exit code. */
int fleet_list(const char *cmd, const struct api_config *cfg, const char *base,
	       const char *const *keys, const char *const *vals, size_t n, bool json,
	       void (*print)(const json_t *ans, bool color));
/* Returns s with control characters (C0, DEL, C1) replaced by '?', for a terminal (new). */
char *fleet_safe(const char *s);
/* A JSON value as short text: strings as they are, null as "-", objects as k=v,k=v. */
char *fleet_text(const json_t *v);
/* "12s ago", "5m ago", "3h ago", "2d ago" for an RFC 3339 time, "never" for null. */
char *fleet_ago(const json_t *v);
/* Parses a duration ("90", "90s", "30m", "1h", "7d") into seconds within [1, max]. */
int fleet_parse_duration(const char *s, int64_t max, int64_t *out);

/* An aligned table for a terminal: cells are copied through fleet_safe(). */
struct table {
	size_t ncols, nrows;
	int indent;	     /* spaces before each line */
	char **cells;	     /* nrows * ncols, row 0 is the header */
	const char **colors; /* ANSI colour per cell or NULL */
};
void table_init(struct table *t, size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (NULL prints as "-"). */
void table_row(struct table *t, const char *const *cells);
/* Colours cell col of the last row (only used when colour is on). */
void table_color(struct table *t, size_t col, const char *ansi);
void table_print(const struct table *t, FILE *f, bool color);
void table_free(struct table *t);
/* ANSI colour of a check status (pass green, fail red, error yellow, others dim). */
const char *status_color(const char *status);
