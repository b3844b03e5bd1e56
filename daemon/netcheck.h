/* SPDX-License-Identifier: MIT */
/*
 * The decisions of `icemesh netcheck` (docs/daemon.md), without I/O: the
 * NAT's mapping behaviour from what the STUN servers saw, and the TURN
 * server's probe — an unauthenticated Allocate whose answer (normally the
 * 401 challenge, RFC 8656 §7.2) times the round trip without allocating.
 */
#ifndef ICEMESH_DAEMON_NETCHECK_H
#define ICEMESH_DAEMON_NETCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/ctl.h"
#include "ice/stun.h"

/*
 * RFC 4787 §4.1 from the mapped addresses of the n STUN servers that
 * answered (each from another server address): unknown below two,
 * endpoint-independent when all are the same address and port,
 * endpoint-dependent otherwise.
 */
enum ctl_mapping netcheck_mapping(const union sockaddr_any *mapped, size_t n);

/*
 * Write the TURN probe with transaction id tid into buf: an Allocate
 * request for UDP with a FINGERPRINT and no credentials. Its length, or a
 * negative errno (-ENOSPC when cap is too small).
 */
int netcheck_turn_probe(uint8_t *buf, size_t cap,
			const uint8_t tid[STUN_TID_LEN]);

/*
 * Whether msg answers the probe with transaction id tid: an Allocate
 * response, error (the expected 401, or any other code: the server is
 * there) or success.
 */
bool netcheck_turn_answer(const struct stun_msg *msg,
			  const uint8_t tid[STUN_TID_LEN]);

#endif
