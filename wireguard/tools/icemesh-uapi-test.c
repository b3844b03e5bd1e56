// SPDX-License-Identifier: MIT
/*
 * icemesh-uapi-test: a WireGuard interface that exists only as its UAPI
 * socket, so that tests/lab/test_uapi.sh can drive uapi.c with the stock
 * wg(8) tool.
 *
 *   icemesh-uapi-test --name IF [--dir DIR] [--timeout SECONDS]
 *                     [--handshake SEC] [--rx BYTES] [--tx BYTES]
 *
 * Listens on DIR/IF.sock (default /var/run/wireguard), applies every set
 * the way wireguard-go does (replace_peers, remove, update_only, preshared
 * key, endpoint, keepalive, replace_allowed_ips, allowed IPs moving between
 * peers through one allowed-IPs table) and answers get with that state plus
 * the given handshake time and counters for every peer. Prints READY, then
 * serves until SIGTERM or the timeout, and removes its socket.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/clock.h"
#include "wireguard/allowedips.h"
#include "wireguard/uapi.h"

enum { MAX_PEERS = 64 };

struct peer {
	bool used;
	struct uapi_peer_info info;
};

struct device {
	struct uapi_device_info info;
	struct peer peers[MAX_PEERS];
	struct allowedips *aips;
	uint64_t handshake;
	uint64_t rx, tx;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct peer *peer_find(struct device *d, const uint8_t *key)
{
	for (int i = 0; i < MAX_PEERS; i++)
		if (d->peers[i].used &&
		    memcmp(d->peers[i].info.public_key, key, UAPI_KEY_LEN) == 0)
			return &d->peers[i];
	return NULL;
}

static void peer_remove(struct device *d, struct peer *p)
{
	allowedips_remove_by_peer(d->aips, p);
	sodium_memzero(p, sizeof(*p));
}

static struct peer *peer_add(struct device *d, const uint8_t *key)
{
	for (int i = 0; i < MAX_PEERS; i++) {
		struct peer *p = &d->peers[i];

		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		memcpy(p->info.public_key, key, UAPI_KEY_LEN);
		return p;
	}
	return NULL;
}

static int apply_peer(struct device *d, const struct uapi_set *s,
		      const struct uapi_peer_set *ps)
{
	static const uint8_t zero[UAPI_KEY_LEN];
	struct peer *p = peer_find(d, ps->public_key);

	if (ps->flags & UAPI_PEER_REMOVE) {
		if (p)
			peer_remove(d, p);
		return 0;
	}
	if (!p && (ps->flags & UAPI_PEER_UPDATE_ONLY))
		return 0;
	if (!p && !(p = peer_add(d, ps->public_key)))
		return -ENOSPC;
	if (ps->flags & UAPI_PEER_PRESHARED_KEY) {
		memcpy(p->info.preshared_key, ps->preshared_key, UAPI_KEY_LEN);
		p->info.has_preshared_key =
			sodium_memcmp(ps->preshared_key, zero, UAPI_KEY_LEN) !=
			0;
	}
	if (ps->flags & UAPI_PEER_ENDPOINT)
		p->info.endpoint = ps->endpoint;
	if (ps->flags & UAPI_PEER_KEEPALIVE)
		p->info.persistent_keepalive = ps->persistent_keepalive;
	if (ps->flags & UAPI_PEER_REPLACE_ALLOWED_IPS)
		allowedips_remove_by_peer(d->aips, p);
	for (size_t i = 0; i < ps->n_allowed_ips; i++) {
		const struct uapi_allowed_ip *a =
			&s->allowed_ips[ps->allowed_ips_off + i];
		int ret = allowedips_insert(d->aips, a->family, a->ip, a->cidr,
					    p);

		if (ret)
			return ret;
	}
	return 0;
}

static int apply_set(struct device *d, const struct uapi_set *s)
{
	static const uint8_t zero[UAPI_KEY_LEN];

	if (s->flags & UAPI_SET_PRIVATE_KEY) {
		memcpy(d->info.private_key, s->private_key, UAPI_KEY_LEN);
		d->info.has_private_key =
			sodium_memcmp(s->private_key, zero, UAPI_KEY_LEN) != 0;
	}
	if (s->flags & UAPI_SET_LISTEN_PORT)
		d->info.listen_port = s->listen_port;
	if (s->flags & UAPI_SET_FWMARK)
		d->info.fwmark = s->fwmark;
	if (s->flags & UAPI_SET_REPLACE_PEERS)
		for (int i = 0; i < MAX_PEERS; i++)
			if (d->peers[i].used)
				peer_remove(d, &d->peers[i]);
	for (size_t i = 0; i < s->n_peers; i++) {
		int ret = apply_peer(d, s, &s->peers[i]);

		if (ret)
			return ret;
	}
	return 0;
}

static int write_aip(void *arg, int family, const uint8_t *ip, uint8_t cidr,
		     void *peer)
{
	(void)peer;
	return uapi_write_allowed_ip(arg, family, ip, cidr);
}

static int answer_get(struct device *d, struct uapi_buf *b)
{
	int ret = uapi_write_device(b, &d->info);

	for (int i = 0; !ret && i < MAX_PEERS; i++) {
		struct peer *p = &d->peers[i];

		if (!p->used)
			continue;
		p->info.last_handshake_sec = d->handshake;
		p->info.last_handshake_nsec = d->handshake ? 500000000 : 0;
		p->info.rx_bytes = d->rx;
		p->info.tx_bytes = d->tx;
		ret = uapi_write_peer(b, &p->info);
		if (!ret)
			ret = allowedips_walk(d->aips, p, write_aip, b);
	}
	return ret;
}

static int handle(void *arg, enum uapi_op op, const struct uapi_set *set,
		  struct uapi_buf *answer)
{
	struct device *d = arg;

	if (op == UAPI_OP_GET)
		return answer_get(d, answer);
	return apply_set(d, set);
}

static int serve(struct device *d, int lfd, unsigned timeout)
{
	uint64_t end = clock_now_ms() + (uint64_t)timeout * 1000;

	while (!stop && clock_now_ms() < end) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 200) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* wg(8) sends one request and closes; bound a silent client */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO,
			   &(struct timeval){ .tv_sec = 2 },
			   sizeof(struct timeval));
		uapi_serve_conn(c, handle, d);
		close(c);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "dir", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "handshake", required_argument, NULL, 'h' },
		{ "rx", required_argument, NULL, 'r' },
		{ "tx", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	static struct device d;
	const char *name = NULL, *dir = "/var/run/wireguard";
	unsigned timeout = 60;
	char path[256];
	int ch, lfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 't':
			timeout = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			d.handshake = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			d.rx = strtoull(optarg, NULL, 10);
			break;
		case 'x':
			d.tx = strtoull(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!name || sodium_init() < 0)
		return 2;
	d.aips = allowedips_create(0);
	lfd = d.aips ? uapi_listen(dir, name) : -ENOMEM;
	if (lfd < 0) {
		fprintf(stderr, "icemesh-uapi-test: %s\n", strerror(-lfd));
		allowedips_destroy(d.aips);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("READY %s/%s.sock\n", dir, name);
	serve(&d, lfd, timeout);
	close(lfd);
	snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
	unlink(path);
	allowedips_destroy(d.aips);
	sodium_memzero(&d, sizeof(d));
	return 0;
}
