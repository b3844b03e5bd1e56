// SPDX-License-Identifier: MIT
#include "fake_daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char KEY_SELF[] = "c2VsZi1ub2RlLWtleS0zMi1ieXRlcy1leGFjdGx5ISE=";
static const char KEY_PEER[] = "cGVlci1ub2RlLWtleS0zMi1ieXRlcy1leGFjdGx5ISE=";

void fake_fill_self(struct ctl_self *s, enum ctl_node_state state)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->name, "laptop");
	strcpy(s->id, "n1");
	strcpy(s->public_key, KEY_SELF);
	strcpy(s->ipv4, "100.64.0.1");
	strcpy(s->ipv6, "fd7a:115c:a1e0::1");
	s->state = state;
	strcpy(s->coordinator.url, "https://coord.example:8443");
	s->coordinator.connected = state == CTL_STATE_RUNNING;
	if (state != CTL_STATE_RUNNING)
		strcpy(s->coordinator.last_error, "not logged in");
}

/* Peer 0: direct; 1: through the relay; 2: offline. */
void fake_fill_peer(struct ctl_peer *p, int i)
{
	static const char *const names[] = { "db1", "web", "old" };
	struct ctl_path *path = &p->path;

	memset(p, 0, sizeof(*p));
	strcpy(p->name, names[i]);
	snprintf(p->id, sizeof(p->id), "n%d", i + 2);
	strcpy(p->public_key, KEY_PEER);
	snprintf(p->ipv4, sizeof(p->ipv4), "100.64.0.%d", i + 2);
	snprintf(p->ipv6, sizeof(p->ipv6), "fd7a:115c:a1e0::%d", i + 2);
	p->rtt_ms = CTL_RTT_NONE;
	if (i == 0) {
		p->online = true;
		path->kind = CTL_PATH_DIRECT;
		path->local = (struct ctl_cand){ CTL_CAND_SRFLX,
						 "198.51.100.4:41641" };
		path->remote =
			(struct ctl_cand){ CTL_CAND_HOST, "10.0.0.2:41641" };
		p->rtt_ms = 0; /* ICE's whole ms: a LAN */
		p->rx_bytes = 1258291; /* 1.2 MiB */
		p->tx_bytes = 512;
		p->last_handshake = FAKE_NOW - 12;
	} else if (i == 1) {
		p->online = true;
		path->kind = CTL_PATH_RELAY;
		path->local = (struct ctl_cand){ CTL_CAND_RELAY,
						 "203.0.113.2:50000" };
		path->remote = (struct ctl_cand){ CTL_CAND_SRFLX,
						  "198.51.100.9:1024" };
		p->rtt_ms = 31;
		p->rx_bytes = 2048;
		p->tx_bytes = 3ULL << 30;
		p->last_handshake = FAKE_NOW - 125;
	}
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_result(int fd, uint64_t id, enum ctl_cmd cmd, bool event,
		       const union ctl_result *res)
{
	struct ctl_error err;
	char *line;
	size_t len;
	int r = event ? ctl_response_build_event(id, cmd, res, &line, &len,
						 &err)
		      : ctl_response_build_ok(id, cmd, res, &line, &len, &err);

	if (r) {
		fprintf(stderr, "fake daemon: cannot build: %s\n", err.message);
		return r;
	}
	r = send_all(fd, line, len);
	free(line);
	return r;
}

static int answer_ping(struct fake_daemon *d, int fd, uint64_t id,
		       const struct ctl_ping_args *a)
{
	union ctl_result r;
	uint32_t received = 0;

	for (uint32_t seq = 1; seq <= a->count; seq++) {
		memset(&r, 0, sizeof(r));
		r.ping_event.seq = seq;
		if (d->mode == FAKE_PING_LOST || seq == 2) {
			r.ping_event.timeout = true;
			r.ping_event.rtt_ms = CTL_RTT_NONE;
		} else if (seq == 1) {
			r.ping_event.path = CTL_PATH_DIRECT;
			strcpy(r.ping_event.via, "198.51.100.9:41641");
			r.ping_event.rtt_ms = 0.84;
			received++;
		} else {
			r.ping_event.path = CTL_PATH_RELAY;
			strcpy(r.ping_event.via, "203.0.113.2:50000");
			r.ping_event.rtt_ms = 31.5;
			received++;
		}
		if (send_result(fd, id, CTL_CMD_PING, true, &r))
			return -1;
	}
	memset(&r, 0, sizeof(r));
	strcpy(r.ping.peer, "db1");
	strcpy(r.ping.ipv4, "100.64.0.2");
	r.ping.sent = a->count;
	r.ping.received = received;
	return send_result(fd, id, CTL_CMD_PING, false, &r);
}

static int answer_netcheck(int fd, uint64_t id)
{
	static char srflx[2][CTL_ADDR_MAX] = { "198.51.100.4:41641",
					       "198.51.100.4:52000" };
	static struct ctl_server servers[2] = {
		{ CTL_SERVER_STUN, "203.0.113.1:3478", true, 12.5, "" },
		{ CTL_SERVER_TURN, "203.0.113.2:3478", false, CTL_RTT_NONE,
		  "401 Unauthorized" },
	};
	union ctl_result r;

	memset(&r, 0, sizeof(r));
	r.netcheck.mapping = CTL_MAPPING_DEPENDENT;
	r.netcheck.srflx = srflx;
	r.netcheck.n_srflx = 2;
	r.netcheck.servers = servers;
	r.netcheck.n_servers = 2;
	return send_result(fd, id, CTL_CMD_NETCHECK, false, &r);
}

static int answer_why(int fd, uint64_t id, const char *peer)
{
	static struct ctl_pair pairs[2] = {
		{ { CTL_CAND_HOST, "192.168.1.5:41641" },
		  { CTL_CAND_HOST, "10.0.0.2:41641" },
		  CTL_PAIR_FAILED,
		  CTL_RTT_NONE,
		  "no answer to 7 checks" },
		{ { CTL_CAND_RELAY, "203.0.113.2:50000" },
		  { CTL_CAND_SRFLX, "198.51.100.9:1024" },
		  CTL_PAIR_SUCCEEDED,
		  31,
		  "" },
	};
	static char reasons[1][CTL_TEXT_MAX] = {
		"the peer's NAT maps each destination to a new port (symmetric)"
	};
	static char advice[1][CTL_TEXT_MAX] = {
		"forward UDP port 41641 to the peer, or give it a public IPv6 address"
	};
	union ctl_result r;

	memset(&r, 0, sizeof(r));
	snprintf(r.why.peer, sizeof(r.why.peer), "%s", peer);
	r.why.path.kind = CTL_PATH_RELAY;
	r.why.path.local = pairs[1].local;
	r.why.path.remote = pairs[1].remote;
	r.why.pairs = pairs;
	r.why.n_pairs = 2;
	r.why.reasons = reasons;
	r.why.n_reasons = 1;
	r.why.advice = advice;
	r.why.n_advice = 1;
	return send_result(fd, id, CTL_CMD_WHY, false, &r);
}

/* The biggest status there can be, to cross the socket in one line. */
static int answer_many(int fd, uint64_t id)
{
	struct ctl_peer *peers = calloc(CTL_MAX_PEERS, sizeof(*peers));
	union ctl_result r;
	int rc;

	if (!peers)
		return -1;
	memset(&r, 0, sizeof(r));
	fake_fill_self(&r.status.self, CTL_STATE_RUNNING);
	for (int i = 0; i < CTL_MAX_PEERS; i++) {
		fake_fill_peer(&peers[i], i % 3);
		snprintf(peers[i].name, sizeof(peers[i].name), "peer%04d", i);
		snprintf(peers[i].ipv4, sizeof(peers[i].ipv4), "100.64.%d.%d",
			 i / 250, i % 250 + 2);
	}
	r.status.peers = peers;
	r.status.n_peers = CTL_MAX_PEERS;
	rc = send_result(fd, id, CTL_CMD_STATUS, false, &r);
	free(peers);
	return rc;
}

static int answer(struct fake_daemon *d, int fd, const struct ctl_request *req)
{
	uint64_t id = d->mode == FAKE_WRONG_ID ? req->id + 7 : req->id;
	struct ctl_peer peers[3];
	union ctl_result r;

	memset(&r, 0, sizeof(r));
	switch (req->cmd) {
	case CTL_CMD_UP:
		fake_fill_self(&r.self, CTL_STATE_RUNNING);
		return send_result(fd, id, req->cmd, false, &r);
	case CTL_CMD_DOWN:
		fake_fill_self(&r.self, CTL_STATE_STOPPED);
		return send_result(fd, id, req->cmd, false, &r);
	case CTL_CMD_STATUS:
		if (d->mode == FAKE_MANY)
			return answer_many(fd, id);
		fake_fill_self(&r.status.self, CTL_STATE_RUNNING);
		for (int i = 0; i < 3; i++)
			fake_fill_peer(&peers[i], i);
		r.status.peers = peers;
		r.status.n_peers = 3;
		return send_result(fd, id, req->cmd, false, &r);
	case CTL_CMD_PING:
		return answer_ping(d, fd, id, &req->args.ping);
	case CTL_CMD_NETCHECK:
		return answer_netcheck(fd, id);
	case CTL_CMD_WHY:
		return answer_why(fd, id, req->args.why.peer);
	default:
		return -1;
	}
}

static void send_error(int fd, bool has_id, uint64_t id,
		       const struct ctl_error *e)
{
	char *line;
	size_t len;

	if (ctl_response_build_error(has_id, id, e, &line, &len) == 0) {
		send_all(fd, line, len);
		free(line);
	}
}

static void serve(struct fake_daemon *d, int fd)
{
	struct ctl_request req;
	struct ctl_reader rd;
	struct ctl_error err;
	char *line;
	size_t len;
	int r;

	ctl_reader_init(&rd, CTL_REQUEST_MAX);
	r = ctl_reader_getline(&rd, fd, 5000, &line, &len);
	if (r == -EMSGSIZE) {
		ctl_error_set(&err, CTL_E_LINE_TOO_LONG, "over %d bytes",
			      CTL_REQUEST_MAX);
		send_error(fd, false, 0, &err);
	}
	if (r <= 0)
		goto out;
	if (ctl_request_parse(line, len, &req, &err)) {
		send_error(fd, err.has_id, err.id, &err);
		goto out;
	}
	d->last = req;
	atomic_fetch_add(&d->requests, 1);
	switch (d->mode) {
	case FAKE_ERROR:
		send_error(fd, true, req.id, &d->error);
		break;
	case FAKE_SILENT:
		/* Wait for the client to give up and close. */
		while (!atomic_load(&d->stop) &&
		       ctl_reader_getline(&rd, fd, 50, &line, &len) ==
			       -ETIMEDOUT)
			;
		break;
	case FAKE_GARBAGE:
		send_all(fd, "this is not json\n", 17);
		break;
	case FAKE_HANGUP:
		break;
	default:
		answer(d, fd, &req);
		break;
	}
out:
	ctl_reader_destroy(&rd);
}

static void *fake_thread(void *arg)
{
	struct fake_daemon *d = arg;

	while (!atomic_load(&d->stop)) {
		struct pollfd pfd = { .fd = d->lfd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		atomic_fetch_add(&d->connections, 1);
		serve(d, fd);
		close(fd);
	}
	return NULL;
}

int fake_daemon_start(struct fake_daemon *d, enum fake_mode mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(d, 0, sizeof(*d));
	d->mode = mode;
	atomic_init(&d->stop, false);
	atomic_init(&d->requests, 0);
	atomic_init(&d->connections, 0);
	strcpy(d->dir, "/tmp/icemesh-cli-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->sock, sizeof(d->sock), "%s/icemeshd.sock", d->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->sock);
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(d->lfd, 8))
		return -errno;
	if (pthread_create(&d->thread, NULL, fake_thread, d))
		return -EAGAIN;
	return 0;
}

void fake_daemon_stop(struct fake_daemon *d)
{
	atomic_store(&d->stop, true);
	pthread_join(d->thread, NULL);
	close(d->lfd);
	unlink(d->sock);
	rmdir(d->dir);
}
