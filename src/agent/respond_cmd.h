/* immune-agent respond (docs/response.md, "Manual response on the host"): one typed action
 * applied, verified or rolled back on this host through a freshly spawned executor. */
#pragma once

/* argv[0] is "respond". Returns the exit code: 0 verified, rolled back or dry run; 1 failed;
 * 2 refused, or a usage or runtime error. */
int agent_respond_main(int argc, char **argv);
