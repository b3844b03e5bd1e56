/* SPDX-License-Identifier: MIT */
/*
 * The data plane: TUN <-> WireGuard core <-> UDP, batched. See dataplane.h
 * for the path a packet takes and docs/dataplane.md for the reasons.
 */
#include "daemon/dataplane.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "ice/demux.h"
#include "tun/netlink.h"
#include "tun/tun.h"
#include "tun/vnet.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define TOPIC "dp"

enum {
	/* a packet slot: data header, the largest segment, padding and tag */
	SLOT_CAP = WG_DATA_HEADER_LEN + DP_MAX_MTU + WG_DATA_PAD + 16,
	/* one receive: a whole GRO train of datagrams */
	RX_CAP = 65536,
	TUN_READ_CAP = VNET_HDR_LEN + VNET_MAX_PACKET,
	SOCK_BUF = 4 << 20,
};

struct dp_sock {
	uv_poll_t poll;
	struct dp *dp;
	int fd;
	int family;
	bool gso, gro;
	/* GSO paused until then: a segment did not fit the route's MTU */
	uint64_t gso_pause_until_ms;
};

/* What the data plane keeps per peer (the core's user pointer). */
struct dp_peer {
	struct dp *dp;
	struct wg_peer *wg;
	uint8_t *staged; /* DP_STAGED_MAX slots, made on first use */
	uint16_t staged_len[DP_STAGED_MAX];
	unsigned staged_n;
	bool ready; /* on the ready list */
	struct dp_peer *ready_next;
	/* mesh mode: where its messages go */
	bool has_path, relayed;
	union sockaddr_any path_to;
};

/* One encrypted message waiting for the flush. */
struct tx_entry {
	struct dp_sock *sock;
	union sockaddr_any to;
};

struct dp {
	uv_loop_t *loop;
	struct wg_device *wg;
	struct allowedips *aips;
	struct tun_device *tun;
	int tun_fd;
	bool vnet;
	uint16_t mtu;
	uint16_t port;
	uint32_t fwmark;
	bool loopback_only, no_offload;
	void (*on_fatal)(void *arg, int err);
	void *fatal_arg;
	void (*on_datagram)(void *arg, enum demux_kind kind,
			    const union sockaddr_any *src, const uint8_t *pkt,
			    size_t len);
	bool (*is_turn_server)(void *arg, const union sockaddr_any *src);
	void *hook_arg;
	bool mesh;
	void (*on_wake)(void *arg, struct wg_peer *peer);
	void (*send_relayed)(void *arg, struct wg_peer *peer,
			     const union sockaddr_any *to, const uint8_t *buf,
			     size_t len);
	bool (*rx_intercept)(void *arg, struct wg_peer *peer,
			     const uint8_t *pkt, size_t len);
	bool in_rx; /* inside a receive batch (GRO flush and drain follow) */
	struct dp_sock *s4, *s6;
	uv_poll_t tun_poll;
	uv_timer_t timer;
	uint64_t timer_at;
	unsigned open_handles;
	bool closing;
	struct dp_stats stats;

	/* TUN -> UDP */
	uint8_t *tun_buf;
	uint8_t *slots;
	uint8_t *seg_ptr[DP_TX_SLOTS];
	size_t seg_len[DP_TX_SLOTS];
	struct iovec tx_iov[DP_TX_SLOTS];
	struct tx_entry tx[DP_TX_SLOTS];
	unsigned ntx;
	struct mmsghdr tx_msg[DP_TX_SLOTS];
	unsigned tx_msg_first[DP_TX_SLOTS]; /* first entry of each message */
	uint64_t flush_ms;
	uint8_t tx_cmsg[DP_TX_SLOTS][CMSG_SPACE(sizeof(uint16_t))];

	/* UDP -> TUN */
	uint8_t *rx_bufs;
	struct mmsghdr rx_msg[DP_RX_BATCH];
	struct iovec rx_iov[DP_RX_BATCH];
	union sockaddr_any rx_from[DP_RX_BATCH];
	uint8_t rx_cmsg[DP_RX_BATCH][CMSG_SPACE(sizeof(int))];
	struct vnet_gro *gro;
	struct dp_peer *ready_head;
	/* handshake messages in the current one-second window (load) */
	uint64_t hs_window_ms;
	uint32_t hs_in_window;
};

static void arm_timer(struct dp *dp);

/* ------------------------------------------------------------ handles */

static void on_handle_closed(uv_handle_t *h)
{
	struct dp *dp = h->data;

	if (--dp->open_handles == 0) {
		sodium_free(dp->slots);
		free(dp->tun_buf);
		free(dp->rx_bufs);
		free(dp);
	}
}

static void on_sock_closed(uv_handle_t *h)
{
	struct dp_sock *s = (struct dp_sock *)h;

	close(s->fd);
	free(s);
}

static void sock_close(struct dp_sock *s)
{
	if (!s)
		return;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ------------------------------------------------------------ UDP out */

static struct dp_sock *sock_for(struct dp *dp, const union sockaddr_any *to)
{
	if (to->sa.sa_family == AF_INET)
		return dp->s4;
	if (to->sa.sa_family == AF_INET6)
		return dp->s6;
	return NULL;
}

/* The core's send callback: handshakes, cookie replies, keepalives. */
static void core_send(struct wg_peer *peer, const union sockaddr_any *to,
		      const uint8_t *buf, size_t len, void *arg)
{
	struct dp *dp = arg;
	struct dp_peer *pp = peer ? wg_peer_user(peer) : NULL;
	struct dp_sock *s;

	if (dp->mesh && pp) {
		if (!pp->has_path)
			return;
		if (pp->relayed) {
			if (dp->send_relayed)
				dp->send_relayed(dp->hook_arg, peer,
						 &pp->path_to, buf, len);
			return;
		}
		to = &pp->path_to;
	}
	s = sock_for(dp, to);
	if (!s || sendto(s->fd, buf, len, 0, &to->sa, addr_len(to)) < 0) {
		log_ratelimited(LOG_LEVEL_WARN, TOPIC, "UDP send failed: %s",
				s ? strerror(errno) : "no socket");
		dp->stats.udp_send_err++;
	}
}

/* How many entries from i on can go as one UDP_SEGMENT send: the same
 * socket and endpoint, equal lengths but for a shorter last one. */
static unsigned gso_run(struct dp *dp, unsigned i)
{
	size_t seg = dp->tx_iov[i].iov_len, total = seg;
	unsigned n = 1;

	if (!dp->tx[i].sock->gso ||
	    dp->flush_ms < dp->tx[i].sock->gso_pause_until_ms)
		return 1;
	while (i + n < dp->ntx && n < DP_GSO_MAX_SEGS) {
		const struct iovec *v = &dp->tx_iov[i + n];

		if (dp->tx[i + n].sock != dp->tx[i].sock ||
		    !addr_equal(&dp->tx[i + n].to, &dp->tx[i].to) ||
		    v->iov_len > seg || total + v->iov_len > DP_GSO_MAX_BYTES)
			break;
		total += v->iov_len;
		n++;
		if (v->iov_len < seg)
			break; /* a short one ends the run */
	}
	return n;
}

static void fill_msg(struct dp *dp, unsigned m, unsigned i, unsigned n)
{
	struct msghdr *h = &dp->tx_msg[m].msg_hdr;

	memset(h, 0, sizeof(*h));
	h->msg_name = &dp->tx[i].to;
	h->msg_namelen = addr_len(&dp->tx[i].to);
	h->msg_iov = &dp->tx_iov[i];
	h->msg_iovlen = n;
	if (n > 1) {
		struct cmsghdr *c;
		uint16_t seg = (uint16_t)dp->tx_iov[i].iov_len;

		h->msg_control = dp->tx_cmsg[m];
		h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
		c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

/*
 * Send messages [0, nmsg) on s. Returns how many went (or were given up on
 * and counted); less than nmsg only when GSO was refused and just turned
 * off: the caller sends the rest again, plainly.
 */
static unsigned send_msgs(struct dp *dp, struct dp_sock *s, unsigned nmsg)
{
	unsigned done = 0;

	while (done < nmsg) {
		int r = sendmmsg(s->fd, dp->tx_msg + done, nmsg - done,
				 MSG_DONTWAIT);

		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && dp->tx_msg[done].msg_hdr.msg_controllen &&
		    (errno == EIO || errno == EINVAL)) {
			/* the route's device cannot segment: stop asking */
			log_warn(TOPIC,
				 "UDP GSO refused (%s): sending "
				 "datagrams one by one",
				 strerror(errno));
			s->gso = false;
			return done;
		}
		if (r < 0 && dp->tx_msg[done].msg_hdr.msg_controllen &&
		    errno == EMSGSIZE) {
			/*
			 * A segment is larger than the route's MTU: the kernel
			 * cuts no GSO segment into IP fragments, but fragments
			 * a plain datagram. Send plainly for a while.
			 */
			log_ratelimited(LOG_LEVEL_INFO, TOPIC,
					"UDP GSO segment over the path MTU: "
					"plain sends for %u s",
					DP_GSO_PAUSE_MS / 1000);
			s->gso_pause_until_ms = dp->flush_ms + DP_GSO_PAUSE_MS;
			return done;
		}
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"UDP send of %u datagram(s) failed: %s",
				nmsg - done, strerror(errno));
		dp->stats.udp_send_err += nmsg - done;
		break;
	}
	return nmsg;
}

/* Send the batch of encrypted messages, grouped per socket and GSO run. */
static void tx_flush(struct dp *dp)
{
	unsigned i = 0;

	if (dp->ntx)
		dp->flush_ms = clock_now_ms();
	while (i < dp->ntx) {
		struct dp_sock *s = dp->tx[i].sock;
		unsigned nmsg = 0, sent;

		while (i < dp->ntx && dp->tx[i].sock == s) {
			unsigned n = gso_run(dp, i);

			dp->tx_msg_first[nmsg] = i;
			fill_msg(dp, nmsg++, i, n);
			if (n > 1)
				dp->stats.udp_gso_sends++;
			i += n;
		}
		sent = send_msgs(dp, s, nmsg);
		if (sent < nmsg)
			i = dp->tx_msg_first[sent]; /* again, without GSO */
	}
	dp->ntx = 0;
}

/* Queue slot buf (an encrypted message of len bytes) for peer's endpoint. */
static void tx_add(struct dp *dp, uint8_t *buf, size_t len,
		   const union sockaddr_any *to)
{
	struct dp_sock *s = sock_for(dp, to);

	if (!s) {
		dp->stats.tx_no_endpoint++;
		return;
	}
	dp->tx[dp->ntx].sock = s;
	dp->tx[dp->ntx].to = *to;
	dp->tx_iov[dp->ntx].iov_base = buf;
	dp->tx_iov[dp->ntx].iov_len = len;
	dp->ntx++;
}

/* An encrypted message for pp: its mesh path, or the core's endpoint. */
static void tx_peer(struct dp *dp, struct dp_peer *pp, uint8_t *buf,
		    size_t len, const union sockaddr_any *endpoint)
{
	if (!dp->mesh) {
		tx_add(dp, buf, len, endpoint);
		return;
	}
	if (!pp->has_path) {
		dp->stats.tx_no_endpoint++;
		return;
	}
	if (pp->relayed) {
		if (dp->send_relayed)
			dp->send_relayed(dp->hook_arg, pp->wg, &pp->path_to,
					 buf, len);
		return;
	}
	tx_add(dp, buf, len, &pp->path_to);
}

/* ------------------------------------------------------------ staging */

static void stage(struct dp *dp, struct dp_peer *pp, const uint8_t *pkt,
		  size_t len)
{
	if (!pp->staged) {
		pp->staged = malloc((size_t)DP_STAGED_MAX * SLOT_CAP);
		if (!pp->staged) {
			dp->stats.tx_staged_dropped++;
			return;
		}
	}
	if (pp->staged_n == DP_STAGED_MAX) {
		dp->stats.tx_staged_dropped++;
		return;
	}
	memcpy(pp->staged + (size_t)pp->staged_n * SLOT_CAP +
		       WG_DATA_HEADER_LEN,
	       pkt, len);
	pp->staged_len[pp->staged_n++] = (uint16_t)len;
}

/* Encrypt and send what waited for the session. */
static void drain_staged(struct dp *dp, struct dp_peer *pp, uint64_t now)
{
	struct wg_peer_info info;
	unsigned i;

	wg_peer_get_info(pp->wg, &info);
	for (i = 0; i < pp->staged_n; i++) {
		uint8_t *slot = pp->staged + (size_t)i * SLOT_CAP;
		size_t out;
		int rc = wg_peer_encrypt(pp->wg, slot, pp->staged_len[i],
					 SLOT_CAP, now, &out);

		if (rc == -ENOKEY)
			break; /* not yet after all: keep the rest */
		if (rc) {
			dp->stats.tx_encrypt_err++;
			continue;
		}
		tx_peer(dp, pp, slot, out, &info.endpoint);
		if (dp->ntx == DP_TX_SLOTS)
			tx_flush(dp);
	}
	tx_flush(dp);
	if (i < pp->staged_n)
		memmove(pp->staged, pp->staged + (size_t)i * SLOT_CAP,
			(size_t)(pp->staged_n - i) * SLOT_CAP);
	memmove(pp->staged_len, pp->staged_len + i,
		(pp->staged_n - i) * sizeof(pp->staged_len[0]));
	pp->staged_n -= i;
}

static void drain_ready(struct dp *dp, uint64_t now)
{
	while (dp->ready_head) {
		struct dp_peer *pp = dp->ready_head;

		dp->ready_head = pp->ready_next;
		pp->ready = false;
		drain_staged(dp, pp, now);
	}
}

static void core_notify(struct wg_peer *peer, enum wg_peer_event ev, void *arg)
{
	struct dp *dp = arg;
	struct dp_peer *pp = wg_peer_user(peer);

	if (!pp)
		return;
	if (ev == WG_EV_SESSION_READY && pp->staged_n && !pp->ready) {
		/* sent after the core returns: it is mid-receive now */
		pp->ready = true;
		pp->ready_next = dp->ready_head;
		dp->ready_head = pp;
	} else if (ev == WG_EV_HANDSHAKE_GAVE_UP || ev == WG_EV_KEYS_ZEROED) {
		dp->stats.tx_staged_dropped += pp->staged_n;
		pp->staged_n = 0;
	}
}

/* ------------------------------------------------------------ TUN in */

/* One plain IP packet from the TUN at slot + header: route and encrypt. */
static void tx_packet(struct dp *dp, uint8_t *slot, size_t len, uint64_t now,
		      struct wg_peer **last, struct wg_peer_info *info)
{
	struct wg_peer *peer;
	size_t out;
	int rc;

	dp->stats.tx_packets++;
	dp->stats.tx_bytes += len;
	peer = allowedips_lookup_dst(dp->aips, slot + WG_DATA_HEADER_LEN, len);
	if (!peer) {
		dp->stats.tx_no_peer++;
		return;
	}
	if (peer != *last) {
		wg_peer_get_info(peer, info);
		*last = peer;
	}
	if (dp->mesh) {
		struct dp_peer *pp = wg_peer_user(peer);

		if (!pp->has_path) {
			stage(dp, pp, slot + WG_DATA_HEADER_LEN, len);
			if (dp->on_wake)
				dp->on_wake(dp->hook_arg, peer);
			return;
		}
	} else if (info->endpoint.sa.sa_family == AF_UNSPEC) {
		dp->stats.tx_no_endpoint++;
		return;
	}
	rc = wg_peer_encrypt(peer, slot, len, SLOT_CAP, now, &out);
	if (rc == -ENOKEY) {
		stage(dp, wg_peer_user(peer), slot + WG_DATA_HEADER_LEN, len);
		return;
	}
	if (rc) {
		dp->stats.tx_encrypt_err++;
		return;
	}
	tx_peer(dp, wg_peer_user(peer), slot, out, &info->endpoint);
}

/* Split one TUN read into free slots; -ENOBUFS when they do not suffice. */
static int tun_split(struct dp *dp, size_t n)
{
	size_t free_slots = DP_TX_SLOTS - dp->ntx;

	if (!dp->vnet) {
		/* read straight into the slot (tun_read_one) */
		if (n > DP_MAX_MTU)
			return -EINVAL;
		dp->seg_len[dp->ntx] = n;
		return 1;
	}
	return vnet_split(dp->tun_buf, n, dp->seg_ptr + dp->ntx,
			  SLOT_CAP - WG_DATA_HEADER_LEN - WG_DATA_PAD - 16,
			  dp->seg_len + dp->ntx, free_slots);
}

/*
 * One read: a vnet packet into the read buffer, to be split into slots; a
 * plain packet straight into the next free slot (one byte more than the
 * largest packet is asked for, so that an oversized one shows).
 */
static ssize_t tun_read_one(struct dp *dp)
{
	uint8_t *buf = dp->vnet ? dp->tun_buf : dp->seg_ptr[dp->ntx];
	size_t cap = dp->vnet ? TUN_READ_CAP : DP_MAX_MTU + 1;
	ssize_t n;

	if (dp->tun)
		return tun_read(dp->tun, buf, cap);
	n = read(dp->tun_fd, buf, cap);
	return n < 0 ? -errno : n;
}

/* The TUN failed for good (deleted with ip link del): stop, tell main. */
static void tun_gone(struct dp *dp, int err)
{
	log_error(TOPIC, "the TUN device failed: %s", strerror(-err));
	uv_poll_stop(&dp->tun_poll);
	if (dp->on_fatal)
		dp->on_fatal(dp->fatal_arg, err);
}

static void on_tun_readable(struct dp *dp)
{
	uint64_t now = clock_now_ms();
	struct wg_peer *last = NULL;
	struct wg_peer_info info;

	for (int r = 0; r < DP_TUN_BUDGET; r++) {
		ssize_t n = tun_read_one(dp);
		int nseg;

		if (n == -EAGAIN || n == -EINTR)
			break; /* drained */
		if (n <= 0) {
			tun_gone(dp, n ? (int)n : -ENODEV);
			break;
		}
		nseg = tun_split(dp, (size_t)n);
		if (nseg == -ENOBUFS && dp->ntx && dp->vnet) {
			tx_flush(dp);
			nseg = tun_split(dp, (size_t)n);
		}
		if (nseg < 0) {
			dp->stats.tun_bad_packet++;
			continue;
		}
		/* ntx grows inside tx_packet only for packets that go out */
		for (int i = 0, base = (int)dp->ntx; i < nseg; i++) {
			uint8_t *slot =
				dp->slots + (size_t)(base + i) * SLOT_CAP;
			/* segments land at slot base+i; move to ntx's slot */
			uint8_t *dst = dp->slots + (size_t)dp->ntx * SLOT_CAP;

			if (dst != slot)
				memmove(dst + WG_DATA_HEADER_LEN,
					slot + WG_DATA_HEADER_LEN,
					dp->seg_len[base + i]);
			tx_packet(dp, dst, dp->seg_len[base + i], now, &last,
				  &info);
		}
		if (dp->ntx == DP_TX_SLOTS)
			tx_flush(dp);
	}
	tx_flush(dp);
}

/* ------------------------------------------------------------ UDP in */

static int tun_write_cb(void *arg, const uint8_t *data, size_t len)
{
	struct dp *dp = arg;

	if (dp->tun ? tun_write_raw(dp->tun, data, len) != 0
		    : write(dp->tun_fd, data, len) != (ssize_t)len)
		dp->stats.tun_write_err++;
	return 0; /* one refused packet does not stop the others */
}

static void tun_out(struct dp *dp, const uint8_t *pkt, size_t len)
{
	dp->stats.rx_packets++;
	dp->stats.rx_bytes += len;
	if (!dp->vnet) {
		ssize_t w = dp->tun ? tun_write_ip(dp->tun, pkt, len)
				    : write(dp->tun_fd, pkt, len);

		if (w < 0)
			dp->stats.tun_write_err++;
		return;
	}
	if (vnet_gro_add(dp->gro, pkt, len) == -ENOBUFS) {
		vnet_gro_flush(dp->gro, tun_write_cb, dp);
		if (vnet_gro_add(dp->gro, pkt, len))
			dp->stats.tun_write_err++;
	}
}

/*
 * The core is under load (§5.3: cookie replies instead of handshakes) when
 * handshake messages queue up. Ours are handled inline as they are read, so
 * they wait in the socket, not in a queue of ours: count those that arrive
 * within a second instead, against the same threshold.
 */
static void report_load(struct dp *dp, uint64_t now)
{
	if (now - dp->hs_window_ms >= 1000) {
		dp->hs_window_ms = now;
		dp->hs_in_window = 0;
	}
	wg_device_report_backlog(dp->wg, ++dp->hs_in_window, now);
}

/* A WireGuard message from src: the core, the source check, the TUN. */
static int rx_wireguard(struct dp *dp, const union sockaddr_any *src,
			uint8_t *p, size_t len, uint64_t now)
{
	struct wg_rx rx;
	int ret;

	if (p[0] == WG_MSG_INITIATION || p[0] == WG_MSG_RESPONSE)
		report_load(dp, now);
	ret = wg_device_recv(dp->wg, src, p, len, now, &rx);
	if (ret) {
		dp->stats.rx_wg_dropped++;
		return ret;
	}
	if (dp->mesh && rx.peer && dp->on_wake) {
		struct dp_peer *pp = wg_peer_user(rx.peer);

		/* a peer we sleep on talks to us: it wants a path back */
		if (pp && !pp->has_path)
			dp->on_wake(dp->hook_arg, rx.peer);
	}
	if (!rx.len)
		return 0;
	/* cryptokey routing: the sender must own the inner source */
	if (allowedips_lookup_src(dp->aips, rx.data, rx.len) != rx.peer) {
		dp->stats.rx_bad_src++;
		return -EPERM;
	}
	if (dp->rx_intercept &&
	    dp->rx_intercept(dp->hook_arg, rx.peer, rx.data, rx.len))
		return 0;
	tun_out(dp, rx.data, rx.len);
	return 0;
}

/* One datagram from src: classify, hand to the core or the hook. */
static void rx_datagram(struct dp *dp, const union sockaddr_any *src,
			uint8_t *p, size_t len, uint64_t now)
{
	bool turn = dp->is_turn_server && dp->is_turn_server(dp->hook_arg, src);
	enum demux_kind kind = demux_classify(p, len, turn);

	dp->stats.rx_datagrams++;
	if (kind == DEMUX_WIREGUARD) {
		rx_wireguard(dp, src, p, len, now);
		return;
	}
	if (kind == DEMUX_STUN)
		dp->stats.rx_stun++;
	else if (kind == DEMUX_OTHER)
		dp->stats.rx_other++;
	if (kind != DEMUX_OTHER && dp->on_datagram)
		dp->on_datagram(dp->hook_arg, kind, src, p, len);
}

int dp_input_wireguard(struct dp *dp, const union sockaddr_any *from,
		       uint8_t *pkt, size_t len)
{
	uint64_t now = clock_now_ms();
	int ret;

	if (demux_classify(pkt, len, false) != DEMUX_WIREGUARD) {
		dp->stats.rx_other++;
		return -EBADMSG;
	}
	ret = rx_wireguard(dp, from, pkt, len, now);
	if (!dp->in_rx) {
		/* not inside a receive batch: finish what it would */
		if (dp->vnet)
			vnet_gro_flush(dp->gro, tun_write_cb, dp);
		drain_ready(dp, now);
		arm_timer(dp);
	}
	return ret;
}

int dp_send_datagram(struct dp *dp, const union sockaddr_any *to,
		     const uint8_t *buf, size_t len)
{
	struct dp_sock *s = sock_for(dp, to);

	if (!s)
		return -EAFNOSUPPORT;
	if (sendto(s->fd, buf, len, 0, &to->sa, addr_len(to)) < 0)
		return -errno;
	return 0;
}

int dp_peer_set_path(struct dp *dp, struct wg_peer *peer,
		     const union sockaddr_any *to, bool relayed)
{
	struct dp_peer *pp = wg_peer_user(peer);
	uint64_t now = clock_now_ms();

	if (!pp || !addr_len(to))
		return -EINVAL;
	pp->path_to = *to;
	pp->relayed = relayed;
	pp->has_path = true;
	wg_peer_set_endpoint(peer, to);
	if (pp->staged_n) {
		if (wg_peer_has_session(peer, now))
			drain_staged(dp, pp, now);
		else
			wg_peer_start_handshake(peer, now);
	}
	arm_timer(dp);
	return 0;
}

void dp_peer_clear_path(struct dp *dp, struct wg_peer *peer)
{
	struct dp_peer *pp = wg_peer_user(peer);

	if (pp)
		pp->has_path = false;
}

bool dp_peer_path(const struct dp *dp, const struct wg_peer *peer,
		  union sockaddr_any *to, bool *relayed)
{
	const struct dp_peer *pp = wg_peer_user(peer);

	if (!pp || !pp->has_path)
		return false;
	*to = pp->path_to;
	*relayed = pp->relayed;
	return true;
}

int dp_send_packet(struct dp *dp, const uint8_t *pkt, size_t len)
{
	struct wg_peer *last = NULL;
	struct wg_peer_info info;
	uint64_t now = clock_now_ms();
	uint8_t *slot;

	if (len > dp->mtu || dp->ntx >= DP_TX_SLOTS)
		return -EMSGSIZE;
	if (!allowedips_lookup_dst(dp->aips, pkt, len))
		return -ENETUNREACH;
	slot = dp->slots + (size_t)dp->ntx * SLOT_CAP;
	memcpy(slot + WG_DATA_HEADER_LEN, pkt, len);
	tx_packet(dp, slot, len, now, &last, &info);
	tx_flush(dp);
	arm_timer(dp);
	return 0;
}

static int gro_size(const struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c;
	     c = CMSG_NXTHDR((struct msghdr *)h, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	return 0;
}

static int rx_batch(struct dp *dp, struct dp_sock *s, uint64_t now)
{
	int n;

	for (int i = 0; i < DP_RX_BATCH; i++) {
		struct msghdr *h = &dp->rx_msg[i].msg_hdr;

		dp->rx_iov[i].iov_base = dp->rx_bufs + (size_t)i * RX_CAP;
		dp->rx_iov[i].iov_len = RX_CAP;
		memset(h, 0, sizeof(*h));
		h->msg_name = &dp->rx_from[i];
		h->msg_namelen = sizeof(dp->rx_from[i]);
		h->msg_iov = &dp->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = dp->rx_cmsg[i];
		h->msg_controllen = sizeof(dp->rx_cmsg[i]);
	}
	n = recvmmsg(s->fd, dp->rx_msg, DP_RX_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		const struct msghdr *h = &dp->rx_msg[i].msg_hdr;
		uint8_t *p = dp->rx_iov[i].iov_base;
		size_t len = dp->rx_msg[i].msg_len;
		int seg = gro_size(h);

		if (seg <= 0 || (size_t)seg >= len)
			seg = (int)len;
		else
			dp->stats.udp_gro_trains++;
		for (size_t off = 0; off < len; off += (size_t)seg) {
			size_t l = len - off < (size_t)seg ? len - off
							   : (size_t)seg;

			rx_datagram(dp, &dp->rx_from[i], p + off, l, now);
		}
	}
	return n;
}

static void on_udp_readable(struct dp *dp, struct dp_sock *s)
{
	uint64_t now = clock_now_ms();

	dp->in_rx = true;
	for (int b = 0; b < DP_UDP_BUDGET; b++)
		if (rx_batch(dp, s, now) < DP_RX_BATCH)
			break;
	dp->in_rx = false;
	if (dp->vnet)
		vnet_gro_flush(dp->gro, tun_write_cb, dp);
	drain_ready(dp, now);
}

/* ------------------------------------------------------------ loop */

static void on_timer(uv_timer_t *t)
{
	struct dp *dp = t->data;
	uint64_t now = clock_now_ms();

	dp->timer_at = 0;
	wg_device_tick(dp->wg, now);
	drain_ready(dp, now);
	arm_timer(dp);
}

static void arm_timer(struct dp *dp)
{
	uint64_t next, now;

	if (dp->closing)
		return;
	next = wg_device_next_deadline(dp->wg);
	if (next == dp->timer_at)
		return;
	dp->timer_at = next;
	if (next == UINT64_MAX) {
		uv_timer_stop(&dp->timer);
		return;
	}
	now = clock_now_ms();
	uv_timer_start(&dp->timer, on_timer, next > now ? next - now : 0, 0);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct dp *dp = h->data;

	if (status < 0 && h == &dp->tun_poll) {
		tun_gone(dp, status); /* libuv's codes are -errno */
		return;
	}
	if (status < 0) {
		log_ratelimited(LOG_LEVEL_WARN, TOPIC, "poll error: %s",
				uv_strerror(status));
		return;
	}
	if (h == &dp->tun_poll)
		on_tun_readable(dp);
	else
		on_udp_readable(dp, (struct dp_sock *)h);
	arm_timer(dp);
}

void dp_changed(struct dp *dp)
{
	arm_timer(dp);
}

/* ------------------------------------------------------------ sockets */

static void sock_tune(struct dp_sock *s, bool offload)
{
	int one = 1, size = SOCK_BUF, v = 0;
	socklen_t vl = sizeof(v);

	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) <
	    0)
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) <
	    0)
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (!offload)
		return;
	/* GSO is there when the option can be read (Linux 4.18) */
	s->gso = getsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0;
	s->gro = setsockopt(s->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}

static int sock_open(struct dp *dp, int family, uint16_t port,
		     struct dp_sock **out)
{
	union sockaddr_any a;
	struct dp_sock *s;
	int one = 1, ret;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		a.in4.sin_family = AF_INET;
		a.in4.sin_addr.s_addr =
			htonl(dp->loopback_only ? INADDR_LOOPBACK : INADDR_ANY);
	} else {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr =
			dp->loopback_only ? in6addr_loopback : in6addr_any;
	}
	addr_set_port(&a, port);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dp = dp;
	s->family = family;
	s->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		ret = -errno;
		goto err;
	}
	if (family == AF_INET6)
		setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (dp->fwmark)
		setsockopt(s->fd, SOL_SOCKET, SO_MARK, &dp->fwmark,
			   sizeof(dp->fwmark));
	if (bind(s->fd, &a.sa, addr_len(&a)) < 0) {
		ret = -errno;
		goto err_close;
	}
	sock_tune(s, !dp->no_offload);
	*out = s;
	return 0;
err_close:
	close(s->fd);
err:
	free(s);
	return ret;
}

static void sock_free(struct dp_sock *s)
{
	if (s) {
		close(s->fd);
		free(s);
	}
}

static uint16_t sock_port(const struct dp_sock *s)
{
	union sockaddr_any a;
	socklen_t l = sizeof(a);

	if (getsockname(s->fd, &a.sa, &l) < 0)
		return 0;
	return addr_port(&a);
}

/*
 * Both families on one port: IPv4 first (the kernel may pick), then IPv6 on
 * the same number; when port was 0 and that number is taken for IPv6, try
 * again, as wireguard-go does. No IPv6 at all is fine.
 */
static int socks_open(struct dp *dp, uint16_t port, struct dp_sock **s4,
		      struct dp_sock **s6)
{
	int ret = -EADDRINUSE;

	for (int tries = 0; tries < 100; tries++) {
		ret = sock_open(dp, AF_INET, port, s4);
		if (ret)
			return ret;
		ret = sock_open(dp, AF_INET6, sock_port(*s4), s6);
		if (ret == 0)
			return 0;
		if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL) {
			*s6 = NULL;
			return 0;
		}
		sock_free(*s4);
		*s4 = NULL;
		if (port)
			return ret;
	}
	return ret;
}

static int socks_start(struct dp *dp, struct dp_sock *s)
{
	int ret;

	if (!s)
		return 0;
	ret = uv_poll_init(dp->loop, &s->poll, s->fd);
	if (ret)
		return ret;
	s->poll.data = dp;
	return uv_poll_start(&s->poll, UV_READABLE, on_poll);
}

int dp_set_listen_port(struct dp *dp, uint16_t port)
{
	struct dp_sock *s4 = NULL, *s6 = NULL;
	int ret;

	if (port && port == dp->port)
		return 0;
	ret = socks_open(dp, port, &s4, &s6);
	if (ret)
		return ret;
	if (dp->s4 || dp->s6)
		tx_flush(dp);
	ret = socks_start(dp, s4);
	if (!ret)
		ret = socks_start(dp, s6);
	if (ret) {
		/* a poll that was initialised must be closed through libuv */
		sock_close(s4);
		sock_close(s6);
		return ret;
	}
	sock_close(dp->s4);
	sock_close(dp->s6);
	dp->s4 = s4;
	dp->s6 = s6;
	dp->port = sock_port(s4);
	log_info(TOPIC, "listening on UDP port %u (IPv6 %s, GSO %s, GRO %s)",
		 dp->port, s6 ? "yes" : "no", s4->gso ? "on" : "off",
		 s4->gro ? "on" : "off");
	return 0;
}

int dp_set_fwmark(struct dp *dp, uint32_t mark)
{
	struct dp_sock *ss[2] = { dp->s4, dp->s6 };

	for (int i = 0; i < 2; i++)
		if (ss[i] && setsockopt(ss[i]->fd, SOL_SOCKET, SO_MARK, &mark,
					sizeof(mark)) < 0)
			return -errno;
	dp->fwmark = mark;
	return 0;
}

/* ------------------------------------------------------------ TUN */

static int tun_setup(struct dp *dp, const struct dp_config *cfg)
{
	struct netlink *nl;
	int ret;

	if (cfg->tun_fd >= 0) {
		dp->tun_fd = cfg->tun_fd;
		dp->vnet = cfg->tun_fd_vnet;
		return fcntl(dp->tun_fd, F_SETFL,
			     fcntl(dp->tun_fd, F_GETFL) | O_NONBLOCK) < 0
			       ? -errno
			       : 0;
	}
	ret = tun_open(cfg->ifname, cfg->no_offload ? 0 : TUN_OPEN_VNET_HDR,
		       &dp->tun);
	if (ret)
		return ret;
	dp->tun_fd = tun_fd(dp->tun);
	dp->vnet = tun_has_vnet_hdr(dp->tun);
	/* the tunnel's MTU, as wireguard-go sets it; the user brings it up */
	ret = netlink_open(&nl);
	if (ret)
		return ret;
	ret = netlink_link_set_mtu(nl, tun_ifindex(dp->tun), dp->mtu);
	netlink_close(nl);
	return ret;
}

static int bufs_alloc(struct dp *dp)
{
	dp->tun_buf = malloc(TUN_READ_CAP);
	dp->rx_bufs = malloc((size_t)DP_RX_BATCH * RX_CAP);
	/* slots hold plaintext before it is sealed: guarded, wiped memory */
	dp->slots = sodium_malloc((size_t)DP_TX_SLOTS * SLOT_CAP);
	if (!dp->tun_buf || !dp->rx_bufs || !dp->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < DP_TX_SLOTS; i++)
		dp->seg_ptr[i] =
			dp->slots + (size_t)i * SLOT_CAP + WG_DATA_HEADER_LEN;
	return 0;
}

static int core_create(struct dp *dp)
{
	struct wg_device_config wc = {
		.mtu = dp->mtu,
		.send = core_send,
		.send_arg = dp,
		.notify = core_notify,
		.notify_arg = dp,
	};
	int ret = wg_device_create(&wc, &dp->wg);

	if (ret)
		return ret;
	dp->aips = allowedips_create(0);
	return dp->aips ? 0 : -ENOMEM;
}

static int handles_start(struct dp *dp)
{
	int ret;

	uv_timer_init(dp->loop, &dp->timer);
	dp->timer.data = dp;
	dp->open_handles++;
	ret = uv_poll_init(dp->loop, &dp->tun_poll, dp->tun_fd);
	if (ret)
		return ret;
	dp->tun_poll.data = dp;
	dp->open_handles++;
	return uv_poll_start(&dp->tun_poll, UV_READABLE, on_poll);
}

int dp_create(const struct dp_config *cfg, struct dp **out)
{
	struct dp *dp;
	int ret;

	if (!cfg->loop ||
	    (cfg->mtu && (cfg->mtu < 576 || cfg->mtu > DP_MAX_MTU)))
		return -EINVAL;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->loop = cfg->loop;
	dp->mtu = cfg->mtu ? cfg->mtu : DP_DEFAULT_MTU;
	dp->tun_fd = -1;
	dp->loopback_only = cfg->loopback_only;
	dp->no_offload = cfg->no_offload;
	dp->on_fatal = cfg->on_fatal;
	dp->fatal_arg = cfg->fatal_arg;
	dp->on_datagram = cfg->on_datagram;
	dp->is_turn_server = cfg->is_turn_server;
	dp->hook_arg = cfg->hook_arg;
	dp->mesh = cfg->mesh;
	dp->on_wake = cfg->on_wake;
	dp->send_relayed = cfg->send_relayed;
	dp->rx_intercept = cfg->rx_intercept;
	dp->timer_at = UINT64_MAX;
	ret = bufs_alloc(dp);
	if (!ret)
		ret = core_create(dp);
	if (!ret)
		ret = tun_setup(dp, cfg);
	if (!ret && dp->vnet) {
		unsigned uso = TUN_OFFLOAD_USO4 | TUN_OFFLOAD_USO6;

		/* UDP trains go back coalesced only where the TUN takes them */
		dp->gro = vnet_gro_create(
			DP_GRO_OUT,
			!dp->tun || (tun_offloads(dp->tun) & uso) == uso
				? VNET_GRO_UDP
				: 0);
		ret = dp->gro ? 0 : -ENOMEM;
	}
	if (!ret)
		ret = dp_set_listen_port(dp, cfg->listen_port);
	if (ret)
		goto err;
	ret = handles_start(dp);
	if (ret) {
		dp_destroy(
			dp); /* handles exist now: close them the libuv way */
		return ret;
	}
	*out = dp;
	return 0;
err:
	if (cfg->tun_fd >= 0 && !dp->tun)
		dp->tun_fd = -1; /* the caller's still */
	tun_close(dp->tun);
	vnet_gro_destroy(dp->gro);
	allowedips_destroy(dp->aips);
	wg_device_destroy(dp->wg);
	sodium_free(dp->slots);
	free(dp->tun_buf);
	free(dp->rx_bufs);
	free(dp);
	return ret;
}

static void peer_user_free(struct dp_peer *pp)
{
	if (!pp)
		return;
	if (pp->staged) {
		sodium_memzero(pp->staged, (size_t)DP_STAGED_MAX * SLOT_CAP);
		free(pp->staged);
	}
	free(pp);
}

static void log_stats(const struct dp *dp)
{
	const struct dp_stats *s = &dp->stats;
	const struct wg_device_stats *w = wg_device_stats(dp->wg);

	log_info(TOPIC,
		 "tun in %" PRIu64 " pkts, tun out %" PRIu64
		 " pkts, udp in %" PRIu64 " (%" PRIu64 " GRO trains), %" PRIu64
		 " GSO sends; dropped: no peer %" PRIu64
		 ", no endpoint %" PRIu64 ", bad source %" PRIu64
		 ", core %" PRIu64 " (replay %" PRIu64 ", auth %" PRIu64
		 ", malformed %" PRIu64 "), other %" PRIu64
		 ", tun write %" PRIu64 ", udp send %" PRIu64,
		 s->tx_packets, s->rx_packets, s->rx_datagrams,
		 s->udp_gro_trains, s->udp_gso_sends, s->tx_no_peer,
		 s->tx_no_endpoint, s->rx_bad_src, s->rx_wg_dropped,
		 w->rx_replay, w->rx_bad_auth, w->rx_malformed, s->rx_other,
		 s->tun_write_err, s->udp_send_err);
}

void dp_destroy(struct dp *dp)
{
	if (!dp || dp->closing)
		return;
	dp->closing = true;
	log_stats(dp);
	dp_peer_remove_all(dp);
	wg_device_destroy(dp->wg);
	dp->wg = NULL;
	allowedips_destroy(dp->aips);
	dp->aips = NULL;
	vnet_gro_destroy(dp->gro);
	dp->gro = NULL;
	sock_close(dp->s4);
	sock_close(dp->s6);
	dp->s4 = dp->s6 = NULL;
	if (uv_is_active((uv_handle_t *)&dp->tun_poll))
		uv_poll_stop(&dp->tun_poll);
	if (dp->tun) {
		tun_close(dp->tun);
		dp->tun = NULL;
	} else if (dp->tun_fd >= 0) {
		close(dp->tun_fd);
	}
	dp->tun_fd = -1;
	sodium_memzero(dp->rx_bufs, (size_t)DP_RX_BATCH * RX_CAP);
	sodium_memzero(dp->tun_buf, TUN_READ_CAP);
	if (dp->open_handles == 2)
		uv_close((uv_handle_t *)&dp->tun_poll, on_handle_closed);
	uv_close((uv_handle_t *)&dp->timer, on_handle_closed);
}

/* ------------------------------------------------------------ peers */

int dp_peer_add(struct dp *dp, const uint8_t pub[WG_KEY_LEN],
		const uint8_t psk[WG_KEY_LEN], struct wg_peer **out)
{
	struct dp_peer *pp = calloc(1, sizeof(*pp));
	struct wg_peer *p;
	int ret;

	if (!pp)
		return -ENOMEM;
	ret = wg_device_add_peer(dp->wg, pub, psk, &p);
	if (ret) {
		free(pp);
		return ret;
	}
	pp->dp = dp;
	pp->wg = p;
	wg_peer_set_user(p, pp);
	*out = p;
	return 0;
}

void dp_peer_remove(struct dp *dp, struct wg_peer *peer)
{
	struct dp_peer *pp = wg_peer_user(peer);

	if (pp && pp->ready) {
		struct dp_peer **pr = &dp->ready_head;

		while (*pr != pp)
			pr = &(*pr)->ready_next;
		*pr = pp->ready_next;
	}
	allowedips_remove_by_peer(dp->aips, peer);
	wg_device_remove_peer(dp->wg, peer);
	peer_user_free(pp);
}

void dp_peer_remove_all(struct dp *dp)
{
	struct wg_peer *p;

	while ((p = wg_device_next_peer(dp->wg, NULL)))
		dp_peer_remove(dp, p);
}

/* ------------------------------------------------------------ getters */

struct wg_device *dp_wg(struct dp *dp)
{
	return dp->wg;
}

struct allowedips *dp_allowedips(struct dp *dp)
{
	return dp->aips;
}

const char *dp_ifname(const struct dp *dp)
{
	return dp->tun ? tun_name(dp->tun) : "";
}

const struct dp_stats *dp_stats(const struct dp *dp)
{
	return &dp->stats;
}

void dp_offloads(const struct dp *dp, bool *vnet, bool *gso, bool *gro)
{
	*vnet = dp->vnet;
	*gso = dp->s4 && dp->s4->gso;
	*gro = dp->s4 && dp->s4->gro;
}

uint16_t dp_listen_port(const struct dp *dp)
{
	return dp->port;
}

uint32_t dp_fwmark(const struct dp *dp)
{
	return dp->fwmark;
}
