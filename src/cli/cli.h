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
/* Returns true when output should be coloured (stdout is a terminal and NO_COLOR unset). */
bool cli_color(void);

int cmd_inventory(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_checks(int argc, char **argv);

struct catalog;
/* Loads the catalog at path (NULL: the installed catalog, else the source tree's), printing
 * "file:line:col: check ID: message" on error. Returns 0 or a negative errno (logged). */
int cli_load_catalog(const char *path, struct catalog **out);
