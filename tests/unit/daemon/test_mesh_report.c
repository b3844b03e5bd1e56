// SPDX-License-Identifier: MIT
/*
 * status and why from what the ICE agent reports: the path of a selected
 * pair, the pairs read back from ice_agent_report's text (and from a real
 * agent's), the advice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon/mesh_report.h"

static struct ice_pair_info pair(enum ice_cand_type lt, const char *la,
				 enum ice_cand_type rt, const char *ra)
{
	struct ice_pair_info p;

	memset(&p, 0, sizeof(p));
	p.local.type = lt;
	p.remote.type = rt;
	assert_int_equal(addr_parse(la, 0, &p.local.addr), 0);
	assert_int_equal(addr_parse(ra, 0, &p.remote.addr), 0);
	return p;
}

static void test_path(void **state)
{
	struct ice_pair_info p;
	struct ctl_path c;

	(void)state;
	mesh_path_fill(NULL, &c);
	assert_int_equal(c.kind, CTL_PATH_NONE);
	p = pair(ICE_CAND_HOST, "192.0.2.1:41641", ICE_CAND_SRFLX,
		 "198.51.100.4:1024");
	mesh_path_fill(&p, &c);
	assert_int_equal(c.kind, CTL_PATH_DIRECT);
	assert_int_equal(c.local.type, CTL_CAND_HOST);
	assert_string_equal(c.local.addr, "192.0.2.1:41641");
	assert_int_equal(c.remote.type, CTL_CAND_SRFLX);
	assert_string_equal(c.remote.addr, "198.51.100.4:1024");
	/* the peer's relay makes it a relayed path too */
	p = pair(ICE_CAND_HOST, "192.0.2.1:41641", ICE_CAND_RELAY,
		 "[2001:db8::1]:50000");
	mesh_path_fill(&p, &c);
	assert_int_equal(c.kind, CTL_PATH_RELAY);
	assert_string_equal(c.remote.addr, "[2001:db8::1]:50000");
	p = pair(ICE_CAND_RELAY, "203.0.113.1:5", ICE_CAND_PRFLX,
		 "203.0.113.13:13432");
	mesh_path_fill(&p, &c);
	assert_int_equal(c.kind, CTL_PATH_RELAY);
	assert_int_equal(c.local.type, CTL_CAND_RELAY);
	assert_int_equal(c.remote.type, CTL_CAND_PRFLX);
}

static const char report[] =
	"pair host 10.1.0.10:41641 -> host 10.2.0.10:41641: failed after 7 tries\n"
	"pair relay 203.0.113.1:54426 -> prflx 203.0.113.13:13432: succeeded after 1 tries\n"
	"pair host 10.1.0.10:41641 -> srflx 203.0.113.13:45086: failed after 2 tries, 487 role conflict\n"
	"pair host [2001:db8::5]:41641 -> host [2001:db8::6]:41641: in-progress after 3 tries\n"
	"pair bogus 1.2.3.4:5 -> host 1.2.3.4:5: failed after 1 tries\n"
	"never reached remote host 10.2.0.10:41641\n"
	"STUN server 203.0.113.1:3478 never answered from 10.1.0.10:41641\n";

static void test_parse(void **state)
{
	struct ctl_pair pairs[8];
	char reasons[4][CTL_TEXT_MAX];
	size_t nr, np;

	(void)state;
	np = mesh_report_parse(report, pairs, 8, reasons, 4, &nr);
	assert_int_equal(np, 4); /* the bogus type is left out */
	assert_int_equal(pairs[0].state, CTL_PAIR_FAILED);
	assert_string_equal(pairs[0].failure, "no answer to 7 checks");
	assert_int_equal(pairs[1].state, CTL_PAIR_SUCCEEDED);
	assert_int_equal(pairs[1].local.type, CTL_CAND_RELAY);
	assert_string_equal(pairs[1].remote.addr, "203.0.113.13:13432");
	assert_string_equal(pairs[1].failure, "");
	assert_string_equal(pairs[2].failure, "487 role conflict");
	assert_int_equal(pairs[3].state, CTL_PAIR_IN_PROGRESS);
	assert_string_equal(pairs[3].local.addr, "[2001:db8::5]:41641");
	assert_true(pairs[3].rtt_ms < 0);
	assert_int_equal(nr, 2);
	assert_string_equal(reasons[0],
			    "never reached remote host 10.2.0.10:41641");
	/* caps */
	np = mesh_report_parse(report, pairs, 1, reasons, 1, &nr);
	assert_int_equal(np, 1);
	assert_int_equal(nr, 1);
	np = mesh_report_parse("", pairs, 8, reasons, 4, &nr);
	assert_int_equal(np + nr, 0);
}

/* The parser reads what a real agent writes. */
static void agent_send(void *arg, const union sockaddr_any *base,
		       const union sockaddr_any *dst, const uint8_t *buf,
		       size_t len)
{
}

static void test_real_agent(void **state)
{
	struct ice_agent_callbacks cb = { .send = agent_send };
	struct ice_agent_config cfg = { .role = ICE_ROLE_CONTROLLING };
	struct ice_agent *a;
	struct ice_candidate c;
	union sockaddr_any host;
	struct ctl_pair pairs[8];
	char reasons[8][CTL_TEXT_MAX], text[2048];
	size_t nr, np;

	(void)state;
	assert_int_equal(ice_agent_create(&cfg, &cb, &a), 0);
	assert_int_equal(addr_parse("192.0.2.1:41641", 0, &host), 0);
	assert_int_equal(ice_agent_add_host(a, &host, 65535, 0), 0);
	assert_int_equal(ice_agent_start(a, 0), 0);
	assert_int_equal(ice_agent_set_remote_credentials(
				 a, "abcd", "0123456789abcdefghijkl", 0),
			 0);
	assert_int_equal(
		ice_candidate_parse(
			"candidate:1 1 udp 2130706431 192.0.2.9 4000 typ host",
			&c),
		0);
	assert_int_equal(ice_agent_add_remote_candidate(a, &c, 0), 0);
	for (uint64_t t = 0; t < 60000; t += 10)
		ice_agent_tick(a, t);
	ice_agent_report(a, text, sizeof(text));
	np = mesh_report_parse(text, pairs, 8, reasons, 8, &nr);
	assert_int_equal(np, 1);
	assert_int_equal(pairs[0].state, CTL_PAIR_FAILED);
	assert_string_equal(pairs[0].remote.addr, "192.0.2.9:4000");
	ice_agent_destroy(a);
}

static void test_advice(void **state)
{
	struct ctl_path path = { .kind = CTL_PATH_DIRECT };
	struct ctl_pair p[1];
	char adv[4][CTL_TEXT_MAX];

	(void)state;
	assert_int_equal(mesh_advice(&path, NULL, 0, adv, 4), 1);
	assert_string_equal(adv[0], "the path is already direct");
	path.kind = CTL_PATH_NONE;
	assert_int_equal(mesh_advice(&path, NULL, 0, adv, 4), 1);
	assert_non_null(strstr(adv[0], "icemesh ping"));
	memset(p, 0, sizeof(p));
	p[0].state = CTL_PAIR_FAILED;
	p[0].remote.type = CTL_CAND_SRFLX;
	path.kind = CTL_PATH_RELAY;
	assert_int_equal(mesh_advice(&path, p, 1, adv, 4), 2);
	assert_non_null(strstr(adv[0], "endpoint-independent"));
	assert_int_equal(mesh_advice(&path, p, 1, adv, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_real_agent),
		cmocka_unit_test(test_advice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
