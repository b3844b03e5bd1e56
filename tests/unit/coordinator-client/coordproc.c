// SPDX-License-Identifier: MIT
#include "coordproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint16_t free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Run argv (NULL-terminated); first line of stdout into out. */
static int run(char *const argv[], char *out, size_t len)
{
	int fds[2], status;
	pid_t pid;
	FILE *f;

	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		dup2(null, 2);
		close(fds[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (out && len) {
		out[0] = '\0';
		if (f && fgets(out, (int)len, f))
			out[strcspn(out, "\n")] = '\0';
	}
	if (f) {
		char sink[256];

		while (fgets(sink, sizeof(sink), f))
			;
		fclose(f);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int coordproc_cmd(struct coordproc *p, char *out, size_t len, ...)
{
	char *argv[16];
	int n = 0;
	va_list ap;
	char *a;

	argv[n++] = p->bin;
	va_start(ap, len);
	while ((a = va_arg(ap, char *)) && n < 12)
		argv[n++] = a;
	va_end(ap);
	argv[n++] = (char *)"--state-dir";
	argv[n++] = p->dir;
	argv[n] = NULL;
	return run(argv, out, len);
}

int coordproc_init(struct coordproc *p, const char *parent)
{
	char self[PATH_MAX], pinfile[300];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;
	int ret;

	memset(p, 0, sizeof(*p));
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	/* BUILD/tests/test_x -> BUILD/icemesh-coord */
	snprintf(p->bin, sizeof(p->bin), "%s/../icemesh-coord", dirname(self));
	if (access(p->bin, X_OK) != 0) {
		fprintf(stderr,
			"no %s: build it first (make BUILD=... "
			"BUILD/icemesh-coord)\n",
			p->bin);
		return -ENOENT;
	}
	snprintf(p->dir, sizeof(p->dir), "%s/coord", parent);
	ret = coordproc_cmd(p, NULL, 0, "init", "--stun", "203.0.113.1:3478",
			    "--turn", "203.0.113.1:3478", "--turn-secret",
			    "test-secret-0123456789", NULL);
	if (ret)
		return ret;
	snprintf(pinfile, sizeof(pinfile), "%s/tls.pin", p->dir);
	f = fopen(pinfile, "r");
	if (!f || !fgets(p->pin, sizeof(p->pin), f)) {
		if (f)
			fclose(f);
		return -EIO;
	}
	fclose(f);
	p->pin[strcspn(p->pin, "\n")] = '\0';
	p->port = free_port();
	snprintf(p->url, sizeof(p->url), "https://127.0.0.1:%u", p->port);
	return p->port ? 0 : -EADDRNOTAVAIL;
}

static int can_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

int coordproc_serve(struct coordproc *p)
{
	char listen[32];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", p->port);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(p->bin, p->bin, "serve", "--listen", listen,
		      "--state-dir", p->dir, (char *)NULL);
		_exit(127);
	}
	p->pid = pid;
	/* bounded wait for the listening socket */
	for (int i = 0; i < 250; i++) {
		int status;

		if (can_connect(p->port))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			p->pid = 0;
			return -EIO;
		}
		nanosleep(&ts, NULL);
	}
	coordproc_kill(p);
	return -ETIMEDOUT;
}

void coordproc_kill(struct coordproc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
}
