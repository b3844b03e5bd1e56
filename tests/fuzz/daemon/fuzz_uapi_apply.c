// SPDX-License-Identifier: MIT
/*
 * UAPI requests applied to a live data plane (daemon/uapi_server.c): any
 * set the parser accepts is applied, then a get must answer with a
 * well-formed errno line. Peers, keys, allowed IPs and removals pile up
 * across inputs (cleared every 64), so sequences are exercised too.
 *
 * Nothing leaves the machine: endpoints are rewritten to 127.0.0.1:9 and
 * listen_port / fwmark are not applied (the sockets stay on loopback).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>
#include <uv.h>

#include "daemon/dataplane.h"
#include "daemon/uapi_server.h"
#include "wireguard/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct dp *dp;

static void init_once(void)
{
	struct dp_config cfg = { .loop = &loop, .loopback_only = true };
	int sp[2];

	if (sodium_init() < 0 || uv_loop_init(&loop) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp))
		abort();
	cfg.tun_fd = sp[0];
	if (dp_create(&cfg, &dp))
		abort();
}

static void tame(struct uapi_set *s)
{
	union sockaddr_any lo;

	memset(&lo, 0, sizeof(lo));
	lo.in4.sin_family = AF_INET;
	lo.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lo.in4.sin_port = htons(9);
	s->flags &= ~(uint32_t)(UAPI_SET_LISTEN_PORT | UAPI_SET_FWMARK);
	for (size_t i = 0; i < s->n_peers; i++)
		s->peers[i].endpoint = lo;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;
	struct uapi_set *set = NULL;
	struct uapi_buf ans;
	enum uapi_op op;
	int err;

	if (!dp)
		init_once();
	if (uapi_parse((const char *)data, size, &op, &set) == 0) {
		uapi_buf_init(&ans);
		if (set)
			tame(set);
		err = uapi_server_handle(dp, op, set, &ans);
		if (err > 0)
			abort(); /* errno is negative or zero */
		uapi_buf_free(&ans);
		uapi_set_free(set);
	}
	uapi_buf_init(&ans);
	if (uapi_server_handle(dp, UAPI_OP_GET, NULL, &ans) == 0 &&
	    uapi_write_end(&ans, 0) == 0 &&
	    (ans.len < 9 || memcmp(ans.data + ans.len - 9, "errno=0\n\n", 9)))
		abort();
	uapi_buf_free(&ans);
	if (++runs % 64 == 0)
		dp_peer_remove_all(dp);
	return 0;
}
