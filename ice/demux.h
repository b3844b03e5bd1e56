/* SPDX-License-Identifier: MIT */
/*
 * The shared UDP socket's classifier (ARCHITECTURE.md, "One UDP socket, three
 * protocols"): STUN, TURN ChannelData and WireGuard arrive on one port and are
 * told apart by their first bytes, in this order:
 *
 *   STUN         byte 0 in 0x00-0x03, bytes 4-7 = 0x2112A442, >= 20 bytes
 *   ChannelData  byte 0 in 0x40-0x4F, from a TURN server, >= 4 bytes
 *   WireGuard    byte 0 in 0x01-0x04 and bytes 1-3 zero, >= 32 bytes
 *   other        anything else: drop and count
 *
 * STUN is tried first: its 32-bit magic cookie is a stronger mark than
 * WireGuard's three zero bytes (a WireGuard message whose sender index
 * happens to equal the cookie is taken for STUN, fails STUN parsing and is
 * dropped: a 2^-32 event the handshake's retry covers).
 *
 * Only the first bytes are looked at: each protocol's own parser does the
 * full check afterwards. No state, no allocation.
 */
#ifndef ICEMESH_ICE_DEMUX_H
#define ICEMESH_ICE_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum demux_kind {
	DEMUX_OTHER = 0, /* unknown: drop and count */
	DEMUX_STUN, /* STUN message (ICE check, STUN/TURN server) */
	DEMUX_CHANNELDATA, /* TURN ChannelData: unwrap, classify payload */
	DEMUX_WIREGUARD, /* WireGuard message */
};

enum {
	DEMUX_STUN_MIN_LEN = 20, /* STUN header, RFC 8489 §5 */
	DEMUX_CHANNELDATA_MIN_LEN = 4, /* ChannelData header, RFC 8656 §12.4 */
	DEMUX_WIREGUARD_MIN_LEN =
		32, /* smallest: keepalive, WireGuard §5.4.6 */
};

/*
 * Classify one datagram. from_turn_server: it came from the address of a
 * TURN server we use (only then is ChannelData possible). Payloads unwrapped
 * from ChannelData or a Data indication are classified again with
 * from_turn_server false: they come from the peer.
 */
enum demux_kind demux_classify(const uint8_t *p, size_t len,
			       bool from_turn_server);

/* "stun", "channeldata", "wireguard" or "other", for counters and logs. */
const char *demux_kind_name(enum demux_kind kind);

#endif
