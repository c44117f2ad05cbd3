/* The OCSF JSON form of events (docs/events.md): the only serialized form of an event. */
#pragma once

#include "detect/event.h"

#include <jansson.h>

/* The OCSF object for ev: class_uid, category_uid, activity_id, type_uid, time (ms),
 * metadata (product, OCSF version, event id), severity_id, and each present field at its
 * path (event.h). Caller decrefs. */
json_t *host_event_to_json(const struct host_event *ev);
/* Compact one-line JSON (caller frees), as spooled and as written to JSON-lines outputs:
 * the same JSON as host_event_to_json() (members in the same order when each object's first
 * member is present), written directly without a tree. A field that is not valid UTF-8 is
 * left out, as json_stringn refuses it in the tree form. Never NULL (aborts on no memory). */
char *host_event_to_json_line(const struct host_event *ev);
/* Reads an OCSF object written by host_event_to_json (kind from class_uid/activity_id and
 * unmapped.kind; fields from their paths; unknown members ignored). Returns 0 or -EBADMSG. */
int host_event_from_json(const json_t *obj, struct host_event *ev);
/* Parses one JSON text. Returns 0 or -EBADMSG. */
int host_event_from_json_text(const char *p, size_t len, struct host_event *ev);
