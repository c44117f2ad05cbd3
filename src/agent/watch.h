/* immune-agent watch (docs/detection.md): the sensors and the detection pipeline in the
 * foreground, events and alerts as OCSF JSON lines on stdout. */
#pragma once

/* argv[0] is "watch". Returns the exit code: 0, or 2 for a usage or runtime error. */
int agent_watch_main(int argc, char **argv);
