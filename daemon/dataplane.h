/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard data plane of icemeshd: one libuv loop drives the TUN
 * device, one UDP socket per address family and the WireGuard core
 * (wireguard/device.h), and forwards between them.
 *
 *   TUN -> split vnet_hdr super-packet -> allowed-IPs lookup of the
 *          destination -> that peer's session -> encrypt in place ->
 *          sendmmsg (UDP GSO where the kernel has it) to the peer's endpoint
 *   UDP -> recvmmsg (UDP GRO where the kernel has it) -> demux_classify ->
 *          wg core (decrypt in place) -> source in the sender's allowed
 *          IPs? -> coalesce (GRO) -> TUN
 *
 * Every wakeup handles a bounded number of packets so that no source starves
 * the loop (libuv polls are level-triggered: what is left is read on the
 * next turn). One uv_timer follows the core's next deadline. All buffers are
 * allocated at create; nothing in the packet paths allocates, except the
 * small queue of packets a peer keeps while its first handshake runs (made
 * once per peer, on first use).
 *
 * The data plane owns the wg_device and the allowed-IPs table; the UAPI
 * server (uapi_server.h) and, later, the mesh daemon configure them through
 * the functions below. Single-threaded: call everything from the loop.
 */
#ifndef ICEMESH_DAEMON_DATAPLANE_H
#define ICEMESH_DAEMON_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/addr.h"
#include "ice/demux.h"
#include "wireguard/allowedips.h"
#include "wireguard/device.h"

struct dp;

enum dp_const {
	DP_DEFAULT_MTU = 1420, /* as wireguard-go and the kernel module */
	DP_MAX_MTU = 9000, /* largest tunnel MTU the buffers hold */
	DP_TX_SLOTS = 128, /* packets encrypted per flush */
	DP_RX_BATCH = 32, /* datagrams (or GRO trains) per recvmmsg */
	DP_TUN_BUDGET = 64, /* TUN reads per wakeup */
	DP_UDP_BUDGET = 4, /* recvmmsg calls per socket per wakeup */
	DP_GRO_OUT = 16, /* coalesced TUN writes per batch */
	DP_STAGED_MAX = 32, /* packets a peer holds while handshaking */
	DP_GSO_MAX_SEGS = 64, /* UDP_SEGMENT: segments per send */
	DP_GSO_MAX_BYTES = 65000, /* UDP_SEGMENT: payload per send */
	DP_GSO_PAUSE_MS = 10000, /* no GSO after a segment over the MTU */
};

struct dp_config {
	uv_loop_t *loop;
	/* TUN device to create (or "" for the kernel's choice) ... */
	const char *ifname;
	/* ... or, when >= 0, an already open packet fd to use instead (one IP
	 * packet per read/write): what unit tests pass. The data plane owns
	 * it and closes it. With tun_fd_vnet, every packet both ways starts
	 * with a vnet header, as on a TUN with IFF_VNET_HDR and all offloads
	 * (super-packets are split on the way in, coalesced on the way out). */
	int tun_fd;
	bool tun_fd_vnet;
	uint16_t mtu; /* 0: DP_DEFAULT_MTU */
	uint16_t listen_port; /* 0: the kernel picks one */
	bool no_offload; /* no vnet header, no UDP GSO/GRO (for comparison) */
	/* bind the UDP sockets to loopback only (unit tests) */
	bool loopback_only;
	/* called once if the TUN fails for good (the device was deleted, or
	 * the packet fd's other end closed); may call dp_destroy */
	void (*on_fatal)(void *arg, int err);
	void *fatal_arg;
	/*
	 * For the mesh mode's ICE agent and TURN client, which share the UDP
	 * sockets (ARCHITECTURE.md, "One UDP socket, three protocols"):
	 * datagrams classified as STUN, or as ChannelData when
	 * is_turn_server(src) says src is a TURN server we use, go to
	 * on_datagram (pkt valid during the call). NULL: counted, dropped.
	 */
	void (*on_datagram)(void *arg, enum demux_kind kind,
			    const union sockaddr_any *src, const uint8_t *pkt,
			    size_t len);
	bool (*is_turn_server)(void *arg, const union sockaddr_any *src);
	void *hook_arg;
	/*
	 * Mesh mode: a peer's messages go only where dp_peer_set_path says
	 * (the ICE selected pair), never to a roaming-learned source. A TUN
	 * packet for a peer without a path is staged (DP_STAGED_MAX) and
	 * on_wake called (also when such a peer's message arrives); a
	 * relayed path's messages go to send_relayed
	 * (buf valid during the call) instead of the socket.
	 */
	bool mesh;
	void (*on_wake)(void *arg, struct wg_peer *peer);
	void (*send_relayed)(void *arg, struct wg_peer *peer,
			     const union sockaddr_any *to, const uint8_t *buf,
			     size_t len);
	/* A decrypted packet from peer, before the TUN: true = consumed
	 * (the mesh's own ICMP echo replies). Optional. */
	bool (*rx_intercept)(void *arg, struct wg_peer *peer,
			     const uint8_t *pkt, size_t len);
};

/* Packets the data plane dropped, by reason (the core counts its own). */
struct dp_stats {
	uint64_t rx_packets, rx_bytes; /* IP packets written to the TUN */
	uint64_t tx_packets, tx_bytes; /* IP packets taken from the TUN */
	uint64_t rx_datagrams; /* UDP datagrams received */
	uint64_t rx_other; /* classified as nothing we speak */
	uint64_t rx_stun; /* STUN: no ICE agent in this mode */
	uint64_t rx_wg_dropped; /* refused by the core (see its stats) */
	uint64_t rx_bad_src; /* inner source not the sender's */
	uint64_t tun_write_err; /* TUN full or refused */
	uint64_t tun_bad_packet; /* unsplittable vnet packet */
	uint64_t tx_no_peer; /* destination in nobody's allowed IPs */
	uint64_t tx_no_endpoint; /* peer without an endpoint */
	uint64_t tx_staged_dropped; /* handshake queue full, or gave up */
	uint64_t tx_encrypt_err; /* core refused to encrypt */
	uint64_t udp_send_err; /* sendmmsg failed (EAGAIN, ...) */
	uint64_t udp_gso_sends; /* sends that carried UDP_SEGMENT */
	uint64_t udp_gro_trains; /* receives that carried UDP_GRO */
};

/* Create and start polling. 0 or -errno (-EPERM, -ENOENT, -EBUSY from the
 * TUN; -EADDRINUSE from the port). Logs what failed. */
int dp_create(const struct dp_config *cfg, struct dp **out);
/*
 * Stop, wipe every key, close the TUN (the kernel removes it) and the
 * sockets. Handles close asynchronously: run the loop until it returns
 * afterwards; the memory goes with the last close. Accepts NULL.
 */
void dp_destroy(struct dp *dp);

/* Owned by dp; valid until dp_destroy. Call dp_changed after editing. */
struct wg_device *dp_wg(struct dp *dp);
struct allowedips *dp_allowedips(struct dp *dp);
/* The TUN's name (owned by dp); "" with a tun_fd. */
const char *dp_ifname(const struct dp *dp);
const struct dp_stats *dp_stats(const struct dp *dp);
/* What the kernel granted: vnet header offloads, UDP GSO, UDP GRO. */
void dp_offloads(const struct dp *dp, bool *vnet, bool *gso, bool *gro);

/* The UDP port in use (the kernel's choice when 0 was asked). */
uint16_t dp_listen_port(const struct dp *dp);
/* Rebind both sockets to port (0: any). 0 or -errno, old sockets kept. */
int dp_set_listen_port(struct dp *dp, uint16_t port);
/* SO_MARK on both sockets (0: none). 0 or -errno. */
int dp_set_fwmark(struct dp *dp, uint32_t mark);
uint32_t dp_fwmark(const struct dp *dp);

/*
 * Add a peer to the core with the data plane's bookkeeping attached (the
 * user pointer of wg_peer is the data plane's; do not set it). 0 or the
 * core's -errno.
 */
int dp_peer_add(struct dp *dp, const uint8_t pub[WG_KEY_LEN],
		const uint8_t psk[WG_KEY_LEN], struct wg_peer **out);
/* Remove a peer: its allowed IPs, its queue, its keys. */
void dp_peer_remove(struct dp *dp, struct wg_peer *peer);
/* Remove every peer. */
void dp_peer_remove_all(struct dp *dp);

/* Send one datagram from the shared socket of to's family (an ICE check,
 * a TURN request). 0 or -errno (-EAFNOSUPPORT: no such socket). */
int dp_send_datagram(struct dp *dp, const union sockaddr_any *to,
		     const uint8_t *buf, size_t len);
/*
 * A WireGuard message that arrived wrapped (ChannelData, a TURN Data
 * indication), as if it came from `from`: decrypted in place, checked,
 * delivered to the TUN like any other. 0, or the drop's -errno.
 */
int dp_input_wireguard(struct dp *dp, const union sockaddr_any *from,
		       uint8_t *pkt, size_t len);

/*
 * Mesh mode: send this peer's messages to `to`, directly or (relayed)
 * through send_relayed, from now on; what waited for a path is sent (after
 * a handshake if there is no session). No new handshake is made when a
 * session exists: moving a path keeps the tunnel. 0 or -EINVAL.
 */
int dp_peer_set_path(struct dp *dp, struct wg_peer *peer,
		     const union sockaddr_any *to, bool relayed);
/* Mesh mode: the peer has no path any more (asleep); packets stage. */
void dp_peer_clear_path(struct dp *dp, struct wg_peer *peer);
/* The path set, or false. */
bool dp_peer_path(const struct dp *dp, const struct wg_peer *peer,
		  union sockaddr_any *to, bool *relayed);
/*
 * Send one IP packet as if it came from the TUN (the mesh's ping). 0, or
 * -ENETUNREACH when no peer's allowed IPs hold its destination.
 */
int dp_send_packet(struct dp *dp, const uint8_t *pkt, size_t len);

/* Configuration changed (keys, keepalive, peers): rearm the timer. */
void dp_changed(struct dp *dp);

#endif
