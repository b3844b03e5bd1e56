// SPDX-License-Identifier: MIT
#include "cli/render.h"

#include <stdlib.h>
#include <string.h>

static const char *const path_words[] = { "none", "direct", "relay" };
static const char *const cand_words[] = { "?", "host", "srflx", "prflx",
					  "relay" };
static const char *const pair_words[] = { "frozen", "waiting", "in-progress",
					  "succeeded", "failed" };

#define WORD(tbl, v) \
	((unsigned)(v) < sizeof(tbl) / sizeof(tbl[0]) ? tbl[v] : "?")

const char *render_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB",
					     "TiB", "PiB", "EiB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *render_ago(uint64_t then, uint64_t now, char *buf, size_t len)
{
	uint64_t d;

	if (then == 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	d = now > then ? now - then : 0;
	if (d < 60)
		snprintf(buf, len, "%llus ago", (unsigned long long)d);
	else if (d < 3600)
		snprintf(buf, len, "%llum ago", (unsigned long long)(d / 60));
	else if (d < 86400)
		snprintf(buf, len, "%lluh ago", (unsigned long long)(d / 3600));
	else
		snprintf(buf, len, "%llud ago",
			 (unsigned long long)(d / 86400));
	return buf;
}

const char *render_rtt(double rtt_ms, char *buf, size_t len)
{
	if (rtt_ms < 0)
		snprintf(buf, len, "-");
	else if (rtt_ms < 10)
		snprintf(buf, len, "%.2f ms", rtt_ms);
	else
		snprintf(buf, len, "%.1f ms", rtt_ms);
	return buf;
}

const char *render_rtt_whole(double rtt_ms, char *buf, size_t len)
{
	if (rtt_ms < 0)
		snprintf(buf, len, "-");
	else if (rtt_ms < 1)
		snprintf(buf, len, "<1 ms");
	else
		snprintf(buf, len, "%llu ms", (unsigned long long)rtt_ms);
	return buf;
}

static const char *render_cand(const struct ctl_cand *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s", WORD(cand_words, c->type), c->addr);
	return buf;
}

const char *render_path(const struct ctl_path *p, char *buf, size_t len)
{
	char l[CTL_ADDR_MAX + 8], r[CTL_ADDR_MAX + 8];

	if (p->kind == CTL_PATH_NONE) {
		snprintf(buf, len, "none");
		return buf;
	}
	snprintf(buf, len, "%s %s -> %s", WORD(path_words, p->kind),
		 render_cand(&p->local, l, sizeof(l)),
		 render_cand(&p->remote, r, sizeof(r)));
	return buf;
}

void render_self(FILE *out, const struct ctl_self *s)
{
	const char *name = s->name[0] ? s->name : "this node";

	switch (s->state) {
	case CTL_STATE_RUNNING:
		fprintf(out, "%s is up: %s%s%s\n", name, s->ipv4,
			s->ipv6[0] ? ", " : "", s->ipv6);
		break;
	case CTL_STATE_STOPPED:
		fprintf(out, "%s is down\n", name);
		break;
	case CTL_STATE_NEEDS_LOGIN:
		fprintf(out,
			"%s needs to log in: run icemesh up --coordinator URL --auth-key KEY\n",
			name);
		break;
	}
	if (!s->coordinator.url[0])
		return; /* never logged in */
	fprintf(out, "coordinator %s (%s%s%s)\n", s->coordinator.url,
		s->coordinator.connected ? "connected" : "not connected",
		s->coordinator.last_error[0] ? ": " : "",
		s->coordinator.last_error);
}

enum { COL_NAME, COL_ADDR, COL_PATH, COL_RTT, COL_RX, COL_TX, COL_HS, N_COLS };
#define CELL_MAX (2 * CTL_ADDR_MAX + 32)

struct row {
	char c[N_COLS][CELL_MAX];
};

static void peer_row(struct row *row, const struct ctl_peer *p, uint64_t now)
{
	snprintf(row->c[COL_NAME], CELL_MAX, "%s", p->name);
	snprintf(row->c[COL_ADDR], CELL_MAX, "%s", p->ipv4);
	if (!p->online && p->path.kind == CTL_PATH_NONE)
		snprintf(row->c[COL_PATH], CELL_MAX, "offline");
	else
		render_path(&p->path, row->c[COL_PATH], CELL_MAX);
	render_rtt_whole(p->rtt_ms, row->c[COL_RTT], CELL_MAX);
	render_bytes(p->rx_bytes, row->c[COL_RX], CELL_MAX);
	render_bytes(p->tx_bytes, row->c[COL_TX], CELL_MAX);
	render_ago(p->last_handshake, now, row->c[COL_HS], CELL_MAX);
}

static void print_rows(FILE *out, const struct row *rows, size_t n)
{
	int w[N_COLS] = { 0 };

	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < N_COLS; k++)
			if ((int)strlen(rows[i].c[k]) > w[k])
				w[k] = (int)strlen(rows[i].c[k]);
	for (size_t i = 0; i < n; i++) {
		/* Numbers are right-aligned, words left-aligned. */
		fprintf(out, "%-*s  %-*s  %-*s  %*s  %*s  %*s  %s\n",
			w[COL_NAME], rows[i].c[COL_NAME], w[COL_ADDR],
			rows[i].c[COL_ADDR], w[COL_PATH], rows[i].c[COL_PATH],
			w[COL_RTT], rows[i].c[COL_RTT], w[COL_RX],
			rows[i].c[COL_RX], w[COL_TX], rows[i].c[COL_TX],
			rows[i].c[COL_HS]);
	}
}

void render_status(FILE *out, const struct ctl_status *st, uint64_t now)
{
	static const struct row head = { { "PEER", "ADDRESS", "PATH", "RTT",
					   "RX", "TX", "HANDSHAKE" } };
	struct row *rows;

	render_self(out, &st->self);
	if (st->n_peers == 0) {
		fprintf(out, "\nno peers\n");
		return;
	}
	rows = calloc(st->n_peers + 1, sizeof(*rows));
	if (!rows) {
		fprintf(out, "\n(out of memory for the peer table)\n");
		return;
	}
	rows[0] = head;
	for (size_t i = 0; i < st->n_peers; i++)
		peer_row(&rows[i + 1], &st->peers[i], now);
	fprintf(out, "\n");
	print_rows(out, rows, st->n_peers + 1);
	free(rows);
}

void render_ping_event(FILE *out, const char *peer,
		       const struct ctl_ping_event *ev)
{
	char rtt[32];

	if (ev->timeout) {
		fprintf(out, "%u: no reply from %s\n", ev->seq, peer);
		return;
	}
	fprintf(out, "%u: reply from %s via %s %s in %s\n", ev->seq, peer,
		WORD(path_words, ev->path), ev->via,
		render_rtt(ev->rtt_ms, rtt, sizeof(rtt)));
}

void render_ping_result(FILE *out, const struct ctl_ping_result *r)
{
	unsigned lost = r->sent ? (r->sent - r->received) * 100u / r->sent : 0;

	fprintf(out, "--- %s%s%s%s: %u sent, %u received, %u%% lost\n", r->peer,
		r->ipv4[0] ? " (" : "", r->ipv4, r->ipv4[0] ? ")" : "", r->sent,
		r->received, lost);
}

void render_netcheck(FILE *out, const struct ctl_netcheck *nc)
{
	static const char *const mapping[] = {
		"unknown (no two STUN servers answered)",
		"endpoint-independent (NAT keeps one mapping: direct paths work)",
		"endpoint-dependent (symmetric NAT: direct only to peers that can reach us)",
	};
	char rtt[32];

	fprintf(out, "mapping: %s\n", WORD(mapping, nc->mapping));
	fprintf(out, "server-reflexive addresses:%s\n",
		nc->n_srflx ? "" : " none");
	for (size_t i = 0; i < nc->n_srflx; i++)
		fprintf(out, "  %s\n", nc->srflx[i]);
	fprintf(out, "servers:%s\n", nc->n_servers ? "" : " none configured");
	for (size_t i = 0; i < nc->n_servers; i++) {
		const struct ctl_server *s = &nc->servers[i];

		fprintf(out, "  %s %s: %s",
			s->kind == CTL_SERVER_TURN ? "turn" : "stun", s->addr,
			s->reachable ? "reachable" : "UNREACHABLE");
		if (s->rtt_ms >= 0)
			fprintf(out, " in %s",
				render_rtt(s->rtt_ms, rtt, sizeof(rtt)));
		if (s->error[0])
			fprintf(out, " (%s)", s->error);
		fprintf(out, "\n");
	}
}

void render_why(FILE *out, const struct ctl_why *w)
{
	char path[CELL_MAX], l[CTL_ADDR_MAX + 8], r[CTL_ADDR_MAX + 8], rtt[32];

	fprintf(out, "%s: %s\n", w->peer,
		render_path(&w->path, path, sizeof(path)));
	fprintf(out, "candidate pairs:%s\n", w->n_pairs ? "" : " none yet");
	for (size_t i = 0; i < w->n_pairs; i++) {
		const struct ctl_pair *p = &w->pairs[i];

		fprintf(out, "  %s -> %s: %s",
			render_cand(&p->local, l, sizeof(l)),
			render_cand(&p->remote, r, sizeof(r)),
			WORD(pair_words, p->state));
		if (p->rtt_ms >= 0)
			fprintf(out, " in %s",
				render_rtt_whole(p->rtt_ms, rtt, sizeof(rtt)));
		if (p->failure[0])
			fprintf(out, " (%s)", p->failure);
		fprintf(out, "\n");
	}
	if (w->n_reasons)
		fprintf(out, "why:\n");
	for (size_t i = 0; i < w->n_reasons; i++)
		fprintf(out, "  - %s\n", w->reasons[i]);
	if (w->n_advice)
		fprintf(out, "what would help:\n");
	for (size_t i = 0; i < w->n_advice; i++)
		fprintf(out, "  - %s\n", w->advice[i]);
}
