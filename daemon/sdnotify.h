/* SPDX-License-Identifier: MIT */
/*
 * systemd's notification protocol without libsystemd (docs/packaging.md):
 * one datagram per message on $NOTIFY_SOCKET ("@" = abstract namespace),
 * never blocking, errors ignored. Without NOTIFY_SOCKET nothing is sent.
 */
#ifndef ICEMESH_DAEMON_SDNOTIFY_H
#define ICEMESH_DAEMON_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Send "READY=1", "STATUS=...", ... (newline-separated KEY=VALUE lines).
 * Returns 0, -ENOENT without $NOTIFY_SOCKET, or -errno. */
int sdnotify_send(const char *msg);
/*
 * The watchdog interval to keep (half of $WATCHDOG_USEC, in ms), or 0 when
 * the watchdog is off or meant for another process ($WATCHDOG_PID).
 */
uint64_t sdnotify_watchdog_ms(void);

#endif
