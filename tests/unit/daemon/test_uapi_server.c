// SPDX-License-Identifier: MIT
/*
 * The UAPI socket as wg(8) meets it: a real unix socket in a directory of
 * the test's own, served from the loop, with clients that write requests
 * whole, in pieces, back to back, or not at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "common/clock.h"
#include "daemon/dataplane.h"
#include "daemon/uapi_server.h"

#define KEY "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define PEER "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"

struct fix {
	uv_loop_t loop;
	struct dp *dp;
	struct uapi_server *srv;
	int tun; /* the test's end of the packet pair */
	char dir[32]; /* the parent the test made */
	char sdir[40]; /* the socket directory the server makes */
	char path[56];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct dp_config cfg = { .loopback_only = true };
	int sp[2];

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	uv_loop_init(&f->loop);
	cfg.loop = &f->loop;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	cfg.tun_fd = sp[0];
	f->tun = sp[1];
	assert_int_equal(dp_create(&cfg, &f->dp), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/icemesh-uapi.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sdir, sizeof(f->sdir), "%s/wg", f->dir);
	snprintf(f->path, sizeof(f->path), "%s/t0.sock", f->sdir);
	assert_int_equal(
		uapi_server_create(&f->loop, f->sdir, "t0", f->dp, &f->srv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	uapi_server_destroy(f->srv);
	dp_destroy(f->dp);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->tun);
	assert_int_equal(access(f->path, F_OK), -1); /* socket removed */
	rmdir(f->sdir);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(const struct fix *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void pump(struct fix *f, unsigned ms)
{
	uint64_t end = clock_now_ms() + ms;

	do {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 1);
	} while (clock_now_ms() < end);
}

/*
 * Read until `answers` complete answers ("errno=...\n\n") arrived, or the
 * server closed (returns the bytes so far, *closed set), or 2 s passed.
 */
static size_t read_answers(struct fix *f, int fd, char *buf, size_t cap,
			   int answers, bool *closed)
{
	uint64_t end = clock_now_ms() + 2000;
	size_t len = 0;

	*closed = false;
	buf[0] = '\0';
	while (clock_now_ms() < end) {
		ssize_t n;
		int seen = 0;

		uv_run(&f->loop, UV_RUN_NOWAIT);
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == 0) {
			*closed = true;
			break;
		}
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
		}
		for (const char *p = buf;
		     (p = strstr(p, "errno=")) && (p = strstr(p, "\n\n"));
		     p += 2)
			seen++;
		if (seen >= answers)
			break;
		poll(NULL, 0, 1);
	}
	return len;
}

static void send_str(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL),
			 (ssize_t)strlen(s));
}

/* Modes: directory 0700 made by the server, socket 0600; a second server
 * on a live socket is refused. */
static void test_modes_and_in_use(void **state)
{
	struct fix *f = *state;
	struct uapi_server *second = NULL;
	struct stat st;

	assert_int_equal(stat(f->sdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(
		uapi_server_create(&f->loop, f->sdir, "t0", f->dp, &second),
		-EADDRINUSE);
	assert_null(second);
}

/* set then get, written back to back in one send, answered in order. */
static void test_set_get_one_connection(void **state)
{
	struct fix *f = *state;
	char buf[4096];
	bool closed;
	int fd = client(f);

	send_str(fd, "set=1\nprivate_key=" KEY "\nlisten_port=0\n"
		     "public_key=" PEER "\nendpoint=127.0.0.1:9\n"
		     "persistent_keepalive_interval=25\n"
		     "allowed_ip=10.1.0.0/16\n\nget=1\n\n");
	read_answers(f, fd, buf, sizeof(buf), 2, &closed);
	assert_false(closed);
	assert_memory_equal(buf, "errno=0\n\n", 9);
	assert_non_null(strstr(buf + 9, "private_key=" KEY "\n"));
	assert_non_null(strstr(buf + 9, "public_key=" PEER "\n"));
	assert_non_null(strstr(buf + 9, "endpoint=127.0.0.1:9\n"));
	assert_non_null(strstr(buf + 9, "persistent_keepalive_interval=25\n"));
	assert_non_null(strstr(buf + 9, "allowed_ip=10.1.0.0/16\n"));
	assert_non_null(strstr(buf + 9, "listen_port="));
	close(fd);
}

/* A request arriving a byte at a time is answered once, when whole. */
static void test_request_in_pieces(void **state)
{
	struct fix *f = *state;
	const char *req = "get=1\n\n";
	char buf[4096];
	bool closed;
	int fd = client(f);

	for (const char *p = req; *p; p++) {
		assert_int_equal(send(fd, p, 1, MSG_NOSIGNAL), 1);
		pump(f, 2);
		if (p[1])
			assert_int_equal(recv(fd, buf, sizeof(buf), 0), -1);
	}
	read_answers(f, fd, buf, sizeof(buf), 1, &closed);
	assert_non_null(strstr(buf, "errno=0\n\n"));
	close(fd);
}

/* A bad value gets its errno; not the protocol at all gets hung up on. */
static void test_errors(void **state)
{
	struct fix *f = *state;
	char buf[4096];
	bool closed;
	int fd = client(f);

	send_str(fd, "set=1\nlisten_port=99999\n\n");
	read_answers(f, fd, buf, sizeof(buf), 1, &closed);
	assert_string_equal(buf, "errno=-22\n\n");
	send_str(fd, "HELLO / HTTP/1.0\n\n");
	read_answers(f, fd, buf, sizeof(buf), 1, &closed);
	assert_true(closed);
	close(fd);
}

/* Connections past the cap are closed at once; the others still work. */
static void test_connection_cap(void **state)
{
	struct fix *f = *state;
	int fds[UAPI_SERVER_MAX_CONNS + 1];
	char buf[4096];
	bool closed;

	for (int i = 0; i <= UAPI_SERVER_MAX_CONNS; i++) {
		fds[i] = client(f);
		pump(f, 2);
	}
	read_answers(f, fds[UAPI_SERVER_MAX_CONNS], buf, sizeof(buf), 1,
		     &closed);
	assert_true(closed);
	send_str(fds[0], "get=1\n\n");
	read_answers(f, fds[0], buf, sizeof(buf), 1, &closed);
	assert_non_null(strstr(buf, "errno=0\n\n"));
	for (int i = 0; i <= UAPI_SERVER_MAX_CONNS; i++)
		close(fds[i]);
	pump(f, 10);
	/* the closed ones made room */
	fds[0] = client(f);
	send_str(fds[0], "get=1\n\n");
	read_answers(f, fds[0], buf, sizeof(buf), 1, &closed);
	assert_non_null(strstr(buf, "errno=0\n\n"));
	close(fds[0]);
}

/* A large answer to a client that does not read at first still arrives
 * whole (the server waits for writability instead of blocking). */
static void test_large_answer_slow_reader(void **state)
{
	struct fix *f = *state;
	static char big[1 << 20];
	char *req = malloc(1 << 20);
	size_t len = 0, got = 0;
	int fd = client(f), n = 20000;
	bool closed;

	assert_non_null(req);
	len += (size_t)sprintf(req, "set=1\npublic_key=" PEER "\n");
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(req + len, "allowed_ip=10.%d.%d.0/24\n",
				       i / 256, i % 256);
	len += (size_t)sprintf(req + len, "\n");
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (w > 0)
			off += (size_t)w;
		pump(f, 1);
	}
	read_answers(f, fd, big, sizeof(big), 1, &closed);
	assert_string_equal(big, "errno=0\n\n");
	send_str(fd, "get=1\n\n");
	pump(f, 50); /* the answer does not fit the socket: it waits */
	got = read_answers(f, fd, big, sizeof(big), 1, &closed);
	assert_false(closed);
	assert_true(got > (size_t)n * 20);
	assert_non_null(strstr(big, "allowed_ip=10.11.183.0/24\n"));
	assert_memory_equal(big + got - 9, "errno=0\n\n", 9);
	free(req);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_modes_and_in_use, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_set_get_one_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_in_pieces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_answer_slow_reader,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
