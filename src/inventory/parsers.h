/* Buffer-level entry points of the collectors' parsers, for the fuzz targets and unit tests.
 * Each one adds rows (and errors) to ctx exactly as its collector does for a file's contents. */
#pragma once

#include "inventory/inventory.h"

/* Parses the text of an sshd configuration file named path (Include directives are followed
 * below ctx->root) into the sshd_config table, then adds OpenSSH's defaults. */
void sshd_config_parse_buffer(struct inv_ctx *ctx, const char *path, const char *data, size_t len);
/* Parses the text of a dpkg status file into the packages table. */
void dpkg_status_parse_buffer(struct inv_ctx *ctx, const char *path, const char *data, size_t len);
/* Parses the text of a modprobe.d file into the kernel_modules table. */
void modprobe_parse_buffer(struct inv_ctx *ctx, const char *path, const char *data, size_t len);
