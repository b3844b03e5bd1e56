// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "daemon/mesh_report.h"

static enum ctl_cand_type cand_type(enum ice_cand_type t)
{
	switch (t) {
	case ICE_CAND_HOST:
		return CTL_CAND_HOST;
	case ICE_CAND_SRFLX:
		return CTL_CAND_SRFLX;
	case ICE_CAND_PRFLX:
		return CTL_CAND_PRFLX;
	case ICE_CAND_RELAY:
		return CTL_CAND_RELAY;
	}
	return CTL_CAND_UNSET;
}

void mesh_path_fill(const struct ice_pair_info *sel, struct ctl_path *out)
{
	memset(out, 0, sizeof(*out));
	if (!sel) {
		out->kind = CTL_PATH_NONE;
		return;
	}
	out->kind = sel->local.type == ICE_CAND_RELAY ||
				    sel->remote.type == ICE_CAND_RELAY ?
			    CTL_PATH_RELAY :
			    CTL_PATH_DIRECT;
	out->local.type = cand_type(sel->local.type);
	addr_to_str(&sel->local.addr, out->local.addr, sizeof(out->local.addr));
	out->remote.type = cand_type(sel->remote.type);
	addr_to_str(&sel->remote.addr, out->remote.addr,
		    sizeof(out->remote.addr));
}

static int parse_cand(const char *type, const char *addr, struct ctl_cand *c)
{
	enum ice_cand_type t;
	union sockaddr_any a;

	if (ice_cand_type_parse(type, &t) || addr_parse(addr, 0, &a) ||
	    !addr_port(&a))
		return -1;
	c->type = cand_type(t);
	addr_to_str(&a, c->addr, sizeof(c->addr));
	return 0;
}

static int parse_state(const char *s, enum ctl_pair_state *out)
{
	static const char *const names[] = { "frozen", "waiting",
					     "in-progress", "succeeded",
					     "failed" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum ctl_pair_state)i;
			return 0;
		}
	return -1;
}

/* "pair host 10.0.0.1:1 -> srflx 1.2.3.4:5: failed after 7 tries, why" */
static int parse_pair(const char *line, struct ctl_pair *p)
{
	char lt[8], la[CTL_ADDR_MAX], rt[8], ra[CTL_ADDR_MAX], st[16];
	unsigned tries;
	int n = 0;
	size_t ralen;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "pair %7s %79s -> %7s %79s %15s after %u tries%n", lt,
		   la, rt, ra, st, &tries, &n) != 6 || !n)
		return -1;
	ralen = strlen(ra);
	if (!ralen || ra[ralen - 1] != ':')
		return -1;
	ra[ralen - 1] = '\0';
	if (parse_cand(lt, la, &p->local) || parse_cand(rt, ra, &p->remote) ||
	    parse_state(st, &p->state))
		return -1;
	p->rtt_ms = CTL_RTT_NONE;
	if (!strncmp(line + n, ", ", 2))
		snprintf(p->failure, sizeof(p->failure), "%s", line + n + 2);
	else if (p->state == CTL_PAIR_FAILED)
		snprintf(p->failure, sizeof(p->failure),
			 "no answer to %u checks", tries);
	return 0;
}

static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

size_t mesh_report_parse(const char *report, struct ctl_pair *pairs,
			 size_t max_pairs, char (*reasons)[CTL_TEXT_MAX],
			 size_t max_reasons, size_t *n_reasons)
{
	size_t np = 0, nr = 0;
	const char *s = report;

	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		char line[CTL_TEXT_MAX];

		if (len && len < sizeof(line)) {
			memcpy(line, s, len);
			line[len] = '\0';
			clean(line);
			if (!strncmp(line, "pair ", 5)) {
				if (np < max_pairs &&
				    parse_pair(line, &pairs[np]) == 0)
					np++;
			} else if (nr < max_reasons) {
				memcpy(reasons[nr++], line, len + 1);
			}
		}
		s = nl ? nl + 1 : NULL;
	}
	*n_reasons = nr;
	return np;
}

static size_t add(char (*out)[CTL_TEXT_MAX], size_t n, size_t max,
		  const char *text)
{
	if (n < max)
		snprintf(out[n++], CTL_TEXT_MAX, "%s", text);
	return n;
}

size_t mesh_advice(const struct ctl_path *path, const struct ctl_pair *pairs,
		   size_t n_pairs, char (*advice)[CTL_TEXT_MAX], size_t max)
{
	bool srflx_failed = false, any = n_pairs > 0;
	size_t n = 0;

	for (size_t i = 0; i < n_pairs; i++)
		if (pairs[i].state == CTL_PAIR_FAILED &&
		    (pairs[i].remote.type == CTL_CAND_SRFLX ||
		     pairs[i].local.type == CTL_CAND_SRFLX))
			srflx_failed = true;
	if (path->kind == CTL_PATH_DIRECT)
		return add(advice, n, max, "the path is already direct");
	if (!any)
		n = add(advice, n, max,
			"no candidate pairs yet: send traffic to the peer "
			"(icemesh ping) to start ICE");
	if (srflx_failed)
		n = add(advice, n, max,
			"a NAT on the way maps endpoint-dependently "
			"(symmetric) or filters: a NAT with endpoint-"
			"independent mapping (RFC 4787), or a port forward to "
			"UDP 41641 on either side, would make it direct");
	if (path->kind == CTL_PATH_RELAY)
		n = add(advice, n, max,
			"a public address or a UDP port forward on either "
			"node would let a direct pair succeed; icemesh "
			"rechecks the direct pairs while on the relay");
	return n;
}
