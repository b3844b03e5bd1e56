/* SPDX-License-Identifier: MIT */
/*
 * The allowed-IPs table of WireGuard (whitepaper §2, "cryptokey routing"):
 * a longest-prefix-match trie from IPv4 and IPv6 prefixes to an opaque peer
 * pointer. Packets from the TUN go to lookup(destination); a decrypted packet
 * is accepted only if lookup(source) is the peer that sent it.
 *
 * Lookups never allocate. The table owns its nodes, never the peer pointers.
 * Not thread-safe: one owner (the daemon loop).
 */
#ifndef ICEMESH_WIREGUARD_ALLOWEDIPS_H
#define ICEMESH_WIREGUARD_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct allowedips;

enum {
	/* Default cap on prefixes (both families together). */
	ALLOWEDIPS_DEFAULT_MAX = 1 << 20,
};

/* max_entries caps stored prefixes (0: ALLOWEDIPS_DEFAULT_MAX). NULL on ENOMEM. */
struct allowedips *allowedips_create(size_t max_entries);
/* Frees every node; accepts NULL. Peers are not touched. */
void allowedips_destroy(struct allowedips *t);

/*
 * Map ip/cidr (family AF_INET: 4 bytes, cidr <= 32; AF_INET6: 16 bytes,
 * cidr <= 128) to peer. Host bits beyond cidr are ignored, as wg(8) does.
 * An existing identical prefix changes owner. Returns 0, -EINVAL (bad
 * family, cidr or NULL peer), -ENOSPC (cap reached) or -ENOMEM.
 */
int allowedips_insert(struct allowedips *t, int family, const void *ip,
		      uint8_t cidr, void *peer);
/*
 * Remove exactly ip/cidr if it exists and (peer is NULL or it belongs to
 * peer). Returns 0, -ENOENT, or -EINVAL.
 */
int allowedips_remove(struct allowedips *t, int family, const void *ip,
		      uint8_t cidr, void *peer);
/* Remove every prefix owned by peer (when a peer is removed or replaced). */
void allowedips_remove_by_peer(struct allowedips *t, void *peer);
/* Remove everything. */
void allowedips_clear(struct allowedips *t);

/* The peer of the longest prefix holding ip (4 or 16 bytes), or NULL. */
void *allowedips_lookup(const struct allowedips *t, int family, const void *ip);
/*
 * For an IP packet (v4 or v6, header checked): the peer owning its
 * destination (for sending) or its source (for the check on receive).
 * NULL when the packet is too short or no prefix holds the address.
 */
void *allowedips_lookup_dst(const struct allowedips *t, const uint8_t *pkt,
			    size_t len);
void *allowedips_lookup_src(const struct allowedips *t, const uint8_t *pkt,
			    size_t len);

/* Number of prefixes stored. */
size_t allowedips_count(const struct allowedips *t);

/*
 * Call fn for every prefix (of peer, or all when peer is NULL), IPv4 first,
 * in address order. ip is the canonical (masked) address. A non-zero return
 * from fn stops the walk and is returned. The table must not change during
 * the walk.
 */
typedef int (*allowedips_walk_fn)(void *arg, int family, const uint8_t *ip,
				  uint8_t cidr, void *peer);
int allowedips_walk(const struct allowedips *t, void *peer,
		    allowedips_walk_fn fn, void *arg);

#endif
