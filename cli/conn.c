// SPDX-License-Identifier: MIT
/* The client end of the control socket. */
#include "cli/cli.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"

int cli_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd, r;

	if (n == 0 || n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do {
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		close(fd);
		/* EPERM comes from LSMs; for the user it is the same thing. */
		return r == -EPERM ? -EACCES : r;
	}
	return fd;
}

int cli_send(int fd, const char *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now = clock_now_ms();
		ssize_t n;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}
