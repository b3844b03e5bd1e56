// SPDX-License-Identifier: MIT
/* The WireGuard userspace API: parser on good and bad input, writer, framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "wireguard/uapi.h"

#define K1 "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define K2 "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
#define K1UP "E84B5A6D2717C1003A13B431570353DBACA9146CF150C5F8575680FEBA52027A"

static int parse_str(const char *s, enum uapi_op *op, struct uapi_set **set)
{
	return uapi_parse(s, strlen(s), op, set);
}

static void test_good_requests(void **state)
{
	enum uapi_op op;
	struct uapi_set *s = NULL;
	const struct uapi_peer_set *p;
	char ep[ADDR_STRLEN];

	assert_int_equal(parse_str("get=1\n\n", &op, &s), 0);
	assert_int_equal(op, UAPI_OP_GET);
	assert_null(s);

	/* what `wg setconf` sends, both peers and every key */
	assert_int_equal(parse_str("set=1\n"
				   "private_key=" K1 "\n"
				   "listen_port=51820\n"
				   "fwmark=0\n"
				   "replace_peers=true\n"
				   "public_key=" K2 "\n"
				   "preshared_key=" K1UP "\n"
				   "endpoint=[2001:db8::1]:4242\n"
				   "persistent_keepalive_interval=25\n"
				   "replace_allowed_ips=true\n"
				   "allowed_ip=10.0.0.0/8\n"
				   "allowed_ip=fd00::1/128\n"
				   "protocol_version=1\n"
				   "public_key=" K1 "\n"
				   "endpoint=192.0.2.7:9\n"
				   "allowed_ip=0.0.0.0/0\n"
				   "public_key=" K1 "\n"
				   "remove=true\n"
				   "public_key=" K2 "\n"
				   "update_only=true\n"
				   "\n",
				   &op, &s),
			 0);
	assert_int_equal(op, UAPI_OP_SET);
	assert_int_equal(s->flags, UAPI_SET_PRIVATE_KEY | UAPI_SET_LISTEN_PORT |
					   UAPI_SET_FWMARK |
					   UAPI_SET_REPLACE_PEERS);
	assert_int_equal(s->private_key[0], 0xe8);
	assert_int_equal(s->private_key[31], 0x7a);
	assert_int_equal(s->listen_port, 51820);
	assert_int_equal(s->fwmark, 0);
	assert_int_equal(s->n_peers, 4);
	assert_int_equal(s->n_allowed_ips, 3);
	p = &s->peers[0];
	assert_int_equal(p->public_key[0], 0xb8);
	assert_int_equal(p->flags, UAPI_PEER_PRESHARED_KEY |
					   UAPI_PEER_ENDPOINT |
					   UAPI_PEER_KEEPALIVE |
					   UAPI_PEER_REPLACE_ALLOWED_IPS);
	assert_memory_equal(p->preshared_key, s->private_key, 32);
	assert_string_equal(addr_to_str(&p->endpoint, ep, sizeof(ep)),
			    "[2001:db8::1]:4242");
	assert_int_equal(p->persistent_keepalive, 25);
	assert_int_equal(p->allowed_ips_off, 0);
	assert_int_equal(p->n_allowed_ips, 2);
	assert_int_equal(s->allowed_ips[0].family, AF_INET);
	assert_int_equal(s->allowed_ips[0].cidr, 8);
	assert_int_equal(s->allowed_ips[0].ip[0], 10);
	assert_int_equal(s->allowed_ips[1].family, AF_INET6);
	assert_int_equal(s->allowed_ips[1].cidr, 128);
	assert_int_equal(s->allowed_ips[1].ip[0], 0xfd);
	assert_int_equal(s->allowed_ips[1].ip[15], 1);
	p = &s->peers[1];
	assert_int_equal(p->flags, UAPI_PEER_ENDPOINT);
	assert_string_equal(addr_to_str(&p->endpoint, ep, sizeof(ep)),
			    "192.0.2.7:9");
	assert_int_equal(p->allowed_ips_off, 2);
	assert_int_equal(p->n_allowed_ips, 1);
	assert_int_equal(s->allowed_ips[2].cidr, 0);
	assert_int_equal(s->peers[2].flags, UAPI_PEER_REMOVE);
	assert_int_equal(s->peers[2].n_allowed_ips, 0);
	assert_int_equal(s->peers[3].flags, UAPI_PEER_UPDATE_ONLY);
	uapi_set_free(s);

	/* the smallest set: nothing to change */
	assert_int_equal(parse_str("set=1\n\n", &op, &s), 0);
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->n_peers, 0);
	uapi_set_free(s);
	uapi_set_free(NULL);
}

static void test_endpoint_scope(void **state)
{
	static const char *const bad[] = {
		"[fe80::1%]:5",
		"[fe80::1%nosuchif0x]:5",
		"fe80::1%1:5",
		"[fe80::1]%1:5",
		"192.0.2.1%1:5",
		"[fe80::1%4294967296]:5",
		"[fe80::1%verylonginterfacename]:5",
	};
	struct uapi_set *s;
	struct uapi_buf b;
	enum uapi_op op;
	char req[256];
	const char *ep;

	/* a number, or an interface name as wg(8) writes it */
	assert_int_equal(parse_str("set=1\npublic_key=" K1 "\n"
				   "endpoint=[fe80::1%7]:51820\n"
				   "public_key=" K2 "\n"
				   "endpoint=[fe80::2%lo]:1\n\n",
				   &op, &s),
			 0);
	assert_int_equal(s->peers[0].endpoint.in6.sin6_scope_id, 7);
	assert_int_equal(s->peers[0].endpoint.in6.sin6_port, htons(51820));
	assert_int_equal(s->peers[1].endpoint.in6.sin6_scope_id,
			 if_nametoindex("lo"));
	/* written back numerically, which wg(8) and getaddrinfo take */
	uapi_buf_init(&b);
	assert_int_equal(uapi_write_set(&b, s), 0);
	ep = strstr(b.data, "endpoint=");
	assert_non_null(ep);
	assert_memory_equal(ep, "endpoint=[fe80::1%7]:51820\n", 27);
	uapi_buf_free(&b);
	uapi_set_free(s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req),
			 "set=1\npublic_key=" K1 "\nendpoint=%s\n\n", bad[i]);
		if (parse_str(req, &op, &s) != -EINVAL)
			fail_msg("accepted endpoint %s", bad[i]);
	}
}

static void test_bad_requests(void **state)
{
	static const struct {
		const char *in;
		int err;
	} bad[] = {
		{ "", -EPROTO },
		{ "\n", -EPROTO },
		{ "get=2\n\n", -EPROTO },
		{ "get=1\nx\n\n", -EPROTO },
		{ "put=1\n\n", -EPROTO },
		{ "set=1\n", -EPROTO }, /* no blank line */
		{ "set=1\nlisten_port=1\n", -EPROTO }, /* no blank line */
		{ "set=1\n\nlisten_port=1\n", -EPROTO }, /* past the end */
		{ "set=1\nlisten_port\n\n", -EPROTO },
		{ "set=1\nlisten_port=65536\n\n", -EINVAL },
		{ "set=1\nlisten_port=-1\n\n", -EINVAL },
		{ "set=1\nlisten_port=\n\n", -EINVAL },
		{ "set=1\nlisten_port= 1\n\n", -EINVAL },
		{ "set=1\nfwmark=4294967296\n\n", -EINVAL },
		{ "set=1\nfwmark=99999999999999999999999\n\n", -EINVAL },
		{ "set=1\nprivate_key=abc\n\n", -EINVAL },
		{ "set=1\nprivate_key=" K1 "0\n\n", -EINVAL },
		{ "set=1\nprivate_key=g84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n\n",
		  -EINVAL },
		{ "set=1\nreplace_peers=false\n\n", -EINVAL },
		{ "set=1\nreplace_peers=1\n\n", -EINVAL },
		{ "set=1\nunknown=1\n\n", -EINVAL },
		{ "set=1\nLISTEN_PORT=1\n\n", -EINVAL },
		{ "set=1\nendpoint=192.0.2.1:1\n\n",
		  -EINVAL }, /* before a peer */
		{ "set=1\nprotocol_version=1\n\n", -EINVAL },
		{ "set=1\npublic_key=" K1 "\nlisten_port=1\n\n", -EINVAL },
		{ "set=1\npublic_key=" K1 "\nremove=yes\n\n", -EINVAL },
		{ "set=1\npublic_key=" K1 "\nprotocol_version=2\n\n", -EINVAL },
		{ "set=1\npublic_key=" K1 "\nendpoint=192.0.2.1\n\n", -EINVAL },
		{ "set=1\npublic_key=" K1 "\nendpoint=2001:db8::1:5\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nendpoint=[2001:db8::1]\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nendpoint=host.example:5\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nendpoint=192.0.2.1:70000\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nallowed_ip=10.0.0.0\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nallowed_ip=10.0.0.0/33\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nallowed_ip=::/129\n\n", -EINVAL },
		{ "set=1\npublic_key=" K1 "\nallowed_ip=10.0.0.0/08\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nallowed_ip=10.0.0/8\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\nallowed_ip=10.0.0.0/\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1
		  "\npersistent_keepalive_interval=65536\n\n",
		  -EINVAL },
		{ "set=1\npublic_key=" K1 "\npreshared_key=\n\n", -EINVAL },
		{ "set=1\npublic_key=\n\n", -EINVAL },
	};
	enum uapi_op op = 0;
	struct uapi_set *s = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse_str(bad[i].in, &op, &s);

		if (ret != bad[i].err)
			fail_msg("case %zu: got %d, want %d", i, ret,
				 bad[i].err);
		assert_null(s); /* untouched on failure */
	}
	/* a NUL inside a line */
	assert_int_equal(uapi_parse("set=1\nfwmark=1\0\n\n", 16, &op, &s),
			 -EPROTO);
	assert_null(s);
}

static void test_caps(void **state)
{
	size_t per = strlen("allowed_ip=10.0.0.0/32\n"),
	       n = UAPI_MAX_ALLOWED_IPS + 1;
	size_t hdr = strlen("set=1\npublic_key=" K1 "\n"),
	       len = hdr + n * per + 1;
	char *req = malloc(len);
	enum uapi_op op;
	struct uapi_set *s = NULL;

	assert_non_null(req);
	memcpy(req, "set=1\npublic_key=" K1 "\n", hdr);
	for (size_t i = 0; i < n; i++)
		memcpy(req + hdr + i * per, "allowed_ip=10.0.0.0/32\n", per);
	req[len - 1] = '\n';
	/* one allowed IP too many: refused, nothing allocated is kept */
	assert_int_equal(uapi_parse(req, len, &op, &s), -E2BIG);
	assert_null(s);
	/* exactly at the cap: accepted */
	memmove(req + hdr, req + hdr + per, len - hdr - per);
	assert_int_equal(uapi_parse(req, len - per, &op, &s), 0);
	assert_int_equal(s->n_allowed_ips, UAPI_MAX_ALLOWED_IPS);
	uapi_set_free(s);
	free(req);
	/* a request that never ends is cut off at the byte cap */
	req = malloc(UAPI_MAX_REQUEST);
	assert_non_null(req);
	memset(req, 'a', UAPI_MAX_REQUEST);
	assert_int_equal(uapi_request_len(req, UAPI_MAX_REQUEST - 1), 0);
	assert_int_equal(uapi_request_len(req, UAPI_MAX_REQUEST), -E2BIG);
	free(req);
}

static void test_framing(void **state)
{
	const char two[] = "get=1\n\nset=1\nlisten_port=1\n\nget";

	assert_int_equal(uapi_request_len(two, strlen(two)), 7);
	assert_int_equal(uapi_request_len(two + 7, strlen(two) - 7), 21);
	assert_int_equal(uapi_request_len(two + 28, 3), 0);
	assert_int_equal(uapi_request_len("get=1\n", 6), 0);
	assert_int_equal(uapi_request_len("\n", 1), 1);
	assert_int_equal(uapi_request_len("", 0), 0);
}

static void test_write_get(void **state)
{
	struct uapi_device_info d = { .has_private_key = true,
				      .listen_port = 51820 };
	struct uapi_peer_info p = { .has_preshared_key = false,
				    .last_handshake_sec = 1700000000,
				    .last_handshake_nsec = 123456789,
				    .rx_bytes = 18446744073709551615ull,
				    .tx_bytes = 42,
				    .persistent_keepalive = 25 };
	uint8_t v4[4] = { 10, 1, 0, 0 }, v6[16] = { 0xfd, [15] = 1 };
	struct uapi_buf b;

	memset(d.private_key, 0xab, 32);
	memset(p.public_key, 0x01, 32);
	assert_int_equal(addr_parse("[2001:db8::9]:51820", 0, &p.endpoint), 0);
	uapi_buf_init(&b);
	assert_int_equal(uapi_write_device(&b, &d), 0);
	assert_int_equal(uapi_write_peer(&b, &p), 0);
	assert_int_equal(uapi_write_allowed_ip(&b, AF_INET, v4, 16), 0);
	assert_int_equal(uapi_write_allowed_ip(&b, AF_INET6, v6, 128), 0);
	assert_int_equal(uapi_write_allowed_ip(&b, AF_INET, v4, 33), -EINVAL);
	assert_int_equal(uapi_write_end(&b, 0), 0);
	assert_string_equal(
		b.data,
		"private_key=abababababababababababababababababababababababababababababababab\n"
		"listen_port=51820\n"
		"public_key=0101010101010101010101010101010101010101010101010101010101010101\n"
		"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		"protocol_version=1\n"
		"endpoint=[2001:db8::9]:51820\n"
		"last_handshake_time_sec=1700000000\n"
		"last_handshake_time_nsec=123456789\n"
		"tx_bytes=42\n"
		"rx_bytes=18446744073709551615\n"
		"persistent_keepalive_interval=25\n"
		"allowed_ip=10.1.0.0/16\n"
		"allowed_ip=fd00::1/128\n"
		"errno=0\n\n");
	assert_int_equal(b.len, strlen(b.data));
	uapi_buf_free(&b);
	uapi_buf_init(&b);
	assert_int_equal(uapi_write_end(&b, -EINVAL), 0);
	assert_string_equal(b.data, "errno=-22\n\n");
	uapi_buf_free(&b);
}

static void test_set_round_trip(void **state)
{
	const char *req = "set=1\n"
			  "private_key=" K1 "\n"
			  "listen_port=1\n"
			  "fwmark=7\n"
			  "replace_peers=true\n"
			  "public_key=" K2 "\n"
			  "update_only=true\n"
			  "preshared_key=" K1 "\n"
			  "endpoint=198.51.100.4:65535\n"
			  "persistent_keepalive_interval=0\n"
			  "replace_allowed_ips=true\n"
			  "allowed_ip=10.1.2.3/24\n"
			  "allowed_ip=::/0\n"
			  "public_key=" K1 "\n"
			  "remove=true\n"
			  "\n";
	struct uapi_set *s, *s2;
	struct uapi_buf b;
	enum uapi_op op;

	assert_int_equal(parse_str(req, &op, &s), 0);
	uapi_buf_init(&b);
	assert_int_equal(uapi_write_set(&b, s), 0);
	/* the canonical form is the request itself (host bits kept) */
	assert_string_equal(b.data, req);
	assert_int_equal(uapi_parse(b.data, b.len, &op, &s2), 0);
	assert_int_equal(s2->n_peers, s->n_peers);
	assert_memory_equal(s2->peers, s->peers,
			    s->n_peers * sizeof(*s->peers));
	assert_memory_equal(s2->allowed_ips, s->allowed_ips,
			    s->n_allowed_ips * sizeof(*s->allowed_ips));
	uapi_buf_free(&b);
	uapi_set_free(s);
	uapi_set_free(s2);
}

static int fake_handle(void *arg, enum uapi_op op, const struct uapi_set *set,
		       struct uapi_buf *ans)
{
	int *calls = arg;
	struct uapi_device_info d = { .listen_port = 7 };

	(*calls)++;
	if (op == UAPI_OP_GET)
		return uapi_write_device(ans, &d);
	return set->listen_port == 13 ? -EADDRINUSE : 0;
}

static void test_serve_socketpair(void **state)
{
	/* two requests in one write, one split over writes, then a bad one */
	const char *in =
		"get=1\n\nset=1\nlisten_port=13\n\nset=1\nfwmark=x\n\nse";
	const char *want = "listen_port=7\nerrno=0\n\n"
			   "errno=-98\n\n"
			   "errno=-22\n\n"
			   "errno=0\n\n";
	char out[256];
	size_t got = 0;
	int sv[2], calls = 0;
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], in, strlen(in)), (ssize_t)strlen(in));
	assert_int_equal(write(sv[1], "t=1\n\n", 5), 5);
	shutdown(sv[1], SHUT_WR);
	assert_int_equal(uapi_serve_conn(sv[0], fake_handle, &calls), 0);
	close(sv[0]);
	while ((n = read(sv[1], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(sv[1]);
	assert_string_equal(out, want);
	assert_int_equal(calls, 3); /* the bad request never reached it */
}

static void test_conn_incremental(void **state)
{
	const char *in = "get=1\n\nset=1\nlisten_port=13\n\n";
	struct uapi_conn c;
	struct uapi_buf out;
	int calls = 0;
	char *big;

	/* one byte at a time: each answer exactly when its request ends */
	uapi_conn_init(&c);
	uapi_buf_init(&out);
	assert_int_equal(uapi_conn_input(&c, "", 0, fake_handle, &calls, &out),
			 0);
	for (size_t i = 0; i < strlen(in); i++) {
		assert_int_equal(uapi_conn_input(&c, in + i, 1, fake_handle,
						 &calls, &out),
				 0);
		if (i == 6)
			assert_string_equal(out.data,
					    "listen_port=7\nerrno=0\n\n");
		if (i < 6)
			assert_int_equal(out.len, 0);
	}
	assert_string_equal(out.data,
			    "listen_port=7\nerrno=0\n\nerrno=-98\n\n");
	assert_int_equal(c.len, 0);
	uapi_buf_free(&out);
	/* not the protocol: the answers before it stay, then hang up */
	uapi_buf_init(&out);
	assert_int_equal(uapi_conn_input(&c, "get=1\n\nhello\n\nget=1\n\n", 21,
					 fake_handle, &calls, &out),
			 -EPROTO);
	assert_string_equal(out.data, "listen_port=7\nerrno=0\n\n");
	uapi_buf_free(&out);
	uapi_conn_free(&c);
	/* a request that never ends is refused at the cap */
	uapi_conn_init(&c);
	uapi_buf_init(&out);
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'a', 1 << 20);
	for (int i = 0; i < 7; i++)
		assert_int_equal(uapi_conn_input(&c, big, 1 << 20, fake_handle,
						 &calls, &out),
				 0);
	assert_int_equal(
		uapi_conn_input(&c, big, 1 << 20, fake_handle, &calls, &out),
		-E2BIG);
	assert_int_equal(out.len, 0);
	free(big);
	uapi_buf_free(&out);
	uapi_conn_free(&c);
	/* get, set, get: nothing after the hang-up was handled */
	assert_int_equal(calls, 3);
}

static void test_listen(void **state)
{
	char dir[] = "/tmp/icemesh-uapi-XXXXXX", path[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, fd2, c;

	assert_non_null(mkdtemp(dir));
	fd = uapi_listen(dir, "imtest0");
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/imtest0.sock", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0077, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(c);
	/* a second listener replaces the stale file */
	fd2 = uapi_listen(dir, "imtest0");
	assert_true(fd2 >= 0);
	assert_int_equal(uapi_listen(dir, "a/b"), -EINVAL);
	close(fd);
	close(fd2);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_endpoint_scope),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_write_get),
		cmocka_unit_test(test_set_round_trip),
		cmocka_unit_test(test_serve_socketpair),
		cmocka_unit_test(test_conn_incremental),
		cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
