// SPDX-License-Identifier: MIT
/*
 * The control socket as icemesh meets it: a real unix socket in a
 * directory of the test's own, served from the loop. Malformed requests get
 * clear errors on a connection that stays usable, answers keep request
 * order, a pending answer holds the next request, a client that leaves
 * cancels, and a user outside root and the socket's group cannot connect.
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
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "daemon/ctl_server.h"

struct fix {
	uv_loop_t loop;
	struct ctlsrv *srv;
	char dir[32];
	char path[64];
	struct ctlsrv_req *pending; /* a ping being answered */
	int requests, cancels;
};

static void fill_self(struct ctl_self *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->public_key, "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=");
	s->state = CTL_STATE_NEEDS_LOGIN;
}

static void on_request(void *arg, struct ctlsrv_req *h,
		       const struct ctl_request *req)
{
	struct fix *f = arg;
	union ctl_result r;

	f->requests++;
	memset(&r, 0, sizeof(r));
	switch (req->cmd) {
	case CTL_CMD_STATUS:
		fill_self(&r.status.self);
		ctlsrv_reply_ok(h, &r);
		break;
	case CTL_CMD_PING:
		/* answered later by the test */
		f->pending = h;
		r.ping_event.seq = 1;
		r.ping_event.timeout = true;
		r.ping_event.rtt_ms = CTL_RTT_NONE;
		ctlsrv_event(h, &r);
		break;
	case CTL_CMD_DOWN:
		/* a result the schema refuses: a bug, answered internal */
		fill_self(&r.self);
		strcpy(r.self.public_key, "not a key");
		ctlsrv_reply_ok(h, &r);
		break;
	default:
		ctlsrv_reply_error(h, CTL_E_NOT_UP, "the node is not up");
		break;
	}
}

static void on_cancel(void *arg, struct ctlsrv_req *h)
{
	struct fix *f = arg;

	if (h == f->pending)
		f->pending = NULL;
	f->cancels++;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct ctlsrv_handler h = { on_request, on_cancel, f };

	strcpy(f->dir, "/tmp/ctlsrv.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755);
	snprintf(f->path, sizeof(f->path), "%s/icemeshd.sock", f->dir);
	uv_loop_init(&f->loop);
	assert_int_equal(ctlsrv_create(&f->loop, f->path, &h, &f->srv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	ctlsrv_destroy(f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(struct fix *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sun.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void say(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Run the loop until a whole line (or EOF: returns 0) arrives on fd. */
static int hear(struct fix *f, int fd, char *out, size_t cap)
{
	size_t n = 0;

	for (int i = 0; i < 400; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		uv_run(&f->loop, UV_RUN_NOWAIT);
		if (poll(&p, 1, 5) == 1) {
			ssize_t r = read(fd, out + n, 1);

			if (r <= 0)
				return 0;
			if (out[n] == '\n') {
				out[n] = '\0';
				return 1;
			}
			if (++n == cap - 1)
				return -1;
		}
	}
	return -1;
}

static void expect_line(struct fix *f, int fd, const char *substr)
{
	char line[4096];

	assert_int_equal(hear(f, fd, line, sizeof(line)), 1);
	if (!strstr(line, substr))
		fail_msg("'%s' not in '%s'", substr, line);
}

static void test_status(void **state)
{
	struct fix *f = *state;
	int fd = client(f);

	say(fd, "{\"id\":7,\"cmd\":\"status\"}\n");
	expect_line(f, fd, "{\"id\":7,\"ok\":true,\"result\":{\"self\":");
	close(fd);
}

static void test_malformed(void **state)
{
	struct fix *f = *state;
	int fd = client(f);

	say(fd, "not json\n");
	expect_line(f, fd, "\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad-request\"");
	say(fd, "{\"id\":3,\"cmd\":\"reboot\"}\n");
	expect_line(f, fd, "\"id\":3,\"ok\":false,\"error\":{\"code\":\"unknown-command\"");
	say(fd, "{\"id\":4,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\"}}\n");
	expect_line(f, fd, "\"code\":\"bad-argument\"");
	say(fd, "{\"id\":5,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":0}}\n");
	expect_line(f, fd, "args.count");
	/* the connection still serves after all that */
	say(fd, "{\"id\":6,\"cmd\":\"status\"}\n");
	expect_line(f, fd, "\"id\":6,\"ok\":true");
	assert_int_equal(f->requests, 1);
	close(fd);
}

static void test_too_long(void **state)
{
	struct fix *f = *state;
	char *big = malloc(CTL_REQUEST_MAX + 16), line[512];
	int fd = client(f);

	memset(big, 'x', CTL_REQUEST_MAX + 10);
	big[CTL_REQUEST_MAX + 10] = '\n';
	big[CTL_REQUEST_MAX + 11] = '\0';
	say(fd, big);
	expect_line(f, fd, "\"code\":\"line-too-long\"");
	/* then the daemon hangs up */
	assert_int_equal(hear(f, fd, line, sizeof(line)), 0);
	free(big);
	close(fd);
}

static void test_order_and_bug(void **state)
{
	struct fix *f = *state;
	int fd = client(f);

	say(fd, "{\"id\":1,\"cmd\":\"down\"}\n{\"id\":2,\"cmd\":\"why\","
		"\"args\":{\"peer\":\"b\"}}\n{\"id\":3,\"cmd\":\"status\"}\n");
	expect_line(f, fd, "{\"id\":1,\"ok\":false,\"error\":{\"code\":\"internal\"");
	expect_line(f, fd, "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"not-up\"");
	expect_line(f, fd, "{\"id\":3,\"ok\":true");
	close(fd);
}

static void test_pending_holds_next(void **state)
{
	struct fix *f = *state;
	union ctl_result r;
	int fd = client(f);

	say(fd, "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"b\"}}\n"
		"{\"id\":2,\"cmd\":\"status\"}\n");
	expect_line(f, fd, "{\"id\":1,\"event\":{\"seq\":1,\"timeout\":true}}");
	for (int i = 0; i < 20; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->requests, 1); /* status waits for ping's end */
	assert_non_null(f->pending);
	memset(&r, 0, sizeof(r));
	strcpy(r.ping.peer, "b");
	r.ping.sent = 1;
	ctlsrv_reply_ok(f->pending, &r);
	f->pending = NULL;
	expect_line(f, fd, "{\"id\":1,\"ok\":true,\"result\":{\"peer\":\"b\"");
	expect_line(f, fd, "{\"id\":2,\"ok\":true");
	close(fd);
}

static void test_cancel(void **state)
{
	struct fix *f = *state;
	int fd = client(f);

	say(fd, "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"b\"}}\n");
	expect_line(f, fd, "\"event\"");
	close(fd);
	for (int i = 0; i < 50 && f->pending; i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_null(f->pending);
	assert_int_equal(f->cancels, 1);
}

static void test_permissions(void **state)
{
	struct fix *f = *state;
	struct stat st;
	pid_t pid;
	int status;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd;

		/* nobody, outside root's group and the socket's */
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(3);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sun.sun_path, f->path);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			_exit(1);
		_exit(errno == EACCES ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_socket_in_use(void **state)
{
	struct fix *f = *state;
	struct ctlsrv_handler h = { on_request, on_cancel, f };
	struct ctlsrv *other;

	/* a live server keeps its socket */
	assert_int_equal(ctlsrv_create(&f->loop, f->path, &h, &other),
			 -EADDRINUSE);
}

static void test_too_many(void **state)
{
	struct fix *f = *state;
	int fds[CTLSRV_MAX_CONNS + 1];

	for (int i = 0; i <= CTLSRV_MAX_CONNS; i++) {
		fds[i] = client(f);
		for (int j = 0; j < 5; j++)
			uv_run(&f->loop, UV_RUN_NOWAIT);
	}
	expect_line(f, fds[CTLSRV_MAX_CONNS], "\"code\":\"busy\"");
	for (int i = 0; i <= CTLSRV_MAX_CONNS; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_bug, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pending_holds_next, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_socket_in_use, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
