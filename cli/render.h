/* SPDX-License-Identifier: MIT */
/*
 * Human output of each command's result (the --json form prints the result
 * as received instead). Nothing here does I/O but writing to the FILE.
 */
#ifndef ICEMESH_CLI_RENDER_H
#define ICEMESH_CLI_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ctl.h"

/* "512 B", "1.5 KiB", "12.0 MiB", ... into buf; returns buf. */
const char *render_bytes(uint64_t n, char *buf, size_t len);
/* "never" for 0, else "12s ago", "5m ago", "3h ago", "2d ago"; returns buf. */
const char *render_ago(uint64_t then, uint64_t now, char *buf, size_t len);
/* "12.3 ms", or "-" when absent; returns buf. */
const char *render_rtt(double rtt_ms, char *buf, size_t len);
/*
 * For an RTT the daemon knows in whole milliseconds only (ICE's clock is in
 * ms: a peer's and a candidate pair's RTT): "<1 ms" for 0, "12 ms", or "-"
 * when absent; never a fraction the measurement does not have. Returns buf.
 */
const char *render_rtt_whole(double rtt_ms, char *buf, size_t len);
/* "direct srflx 198.51.100.4:41641 -> host 10.0.0.2:41641", or "none". */
const char *render_path(const struct ctl_path *p, char *buf, size_t len);

/* up and down: one line about this node. */
void render_self(FILE *out, const struct ctl_self *self);
/* This node, then a table of peers. */
void render_status(FILE *out, const struct ctl_status *st, uint64_t now);
/* One line per ping reply or loss; peer is what the user typed. */
void render_ping_event(FILE *out, const char *peer,
		       const struct ctl_ping_event *ev);
void render_ping_result(FILE *out, const struct ctl_ping_result *res);
void render_netcheck(FILE *out, const struct ctl_netcheck *nc);
void render_why(FILE *out, const struct ctl_why *why);

#endif
