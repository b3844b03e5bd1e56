// SPDX-License-Identifier: MIT
/*
 * The ICE agent's handling of received STUN, inside a live session: an
 * agent with known credentials, a remote candidate and checks in flight is
 * handed datagrams built from the input, then its timers are run.
 *
 * Input: byte 0 picks how the rest becomes datagrams, byte 1 the message
 * class/method and where it comes from; the rest is a list of attributes
 * (type 2 bytes, length 1 byte, value). Modes:
 *   0  the rest as a raw datagram (no help past the codec)
 *   1  a Binding request to us with those attributes, then USERNAME,
 *      MESSAGE-INTEGRITY (our password) and FINGERPRINT: past the auth
 *   2  a response to the agent's latest check (its transaction ID) with
 *      those attributes and the peer's integrity: past the matching
 *   3  both 1 and 2, several times, with time passing in between
 *      (and, with bit 6 of byte 1, an ICE restart after the first round)
 * Nothing may crash, leak, read out of bounds or spin; the agent's lists
 * stay within their caps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "ice/ice_agent.h"
#include "ice/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char UFRAG[] = "fuzzL0cal", PWD[] = "fuzzpasswordlocal0123456";
/* (the agent starts with UFRAG/PWD; a restart draws new ones) */
static const char RUFRAG[] = "fuzzRem0", RPWD[] = "fuzzpasswordremote012345";

struct ctx {
	uint8_t last_tid[STUN_TID_LEN];
	bool have_tid;
	unsigned sent;
};

static void on_send(void *arg, const union sockaddr_any *base,
		    const union sockaddr_any *dst, const uint8_t *buf,
		    size_t len)
{
	struct ctx *c = arg;

	c->sent++;
	/* Remember the agent's latest request so a response can match it. */
	if (len >= STUN_HEADER_LEN && buf[0] == 0x00 && buf[1] == 0x01) {
		memcpy(c->last_tid, buf + 8, STUN_TID_LEN);
		c->have_tid = true;
	}
}

static size_t build(uint8_t *out, size_t cap, uint16_t type, const uint8_t *tid,
		    const uint8_t *p, size_t n, const char *user,
		    const char *key)
{
	struct stun_builder b;
	int len;

	stun_builder_init(&b, out, cap, type, tid);
	while (n >= 3) {
		uint16_t at = (uint16_t)(p[0] << 8 | p[1]);
		size_t l = p[2];

		p += 3;
		n -= 3;
		if (l > n)
			l = n;
		/* The integrity and fingerprint come last, from us. */
		if (at != STUN_ATTR_MESSAGE_INTEGRITY &&
		    at != STUN_ATTR_FINGERPRINT &&
		    at != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
		    at != STUN_ATTR_USERNAME)
			stun_builder_add(&b, at, p, l);
		p += l;
		n -= l;
	}
	if (user)
		stun_builder_add_string(&b, STUN_ATTR_USERNAME, user);
	stun_builder_add_message_integrity(&b, (const uint8_t *)key,
					   strlen(key));
	stun_builder_add_fingerprint(&b);
	len = stun_builder_finish(&b);
	return len > 0 ? (size_t)len : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ice_agent_config cfg = { .role = ICE_ROLE_CONTROLLING,
					.tie_breaker = 42,
					.ufrag = UFRAG,
					.pwd = PWD };
	struct ctx c = { 0 };
	struct ice_agent_callbacks cb = { .send = on_send, .arg = &c };
	struct ice_candidate rc = { .type = ICE_CAND_HOST,
				    .component = 1,
				    .priority = 2130706431,
				    .foundation = "1" };
	union sockaddr_any base, peer, other;
	struct ice_agent *a;
	struct ice_stats st;
	uint8_t msg[2048], tid[STUN_TID_LEN];
	uint64_t now = 1000;
	uint8_t mode, sel;
	size_t len;

	if (size < 2)
		return 0;
	mode = data[0] & 3;
	sel = data[1];
	data += 2;
	size -= 2;

	addr_parse("10.0.0.1:5000", 0, &base);
	addr_parse("10.0.0.2:6000", 0, &peer);
	addr_parse("192.0.2.9:7000", 0, &other);
	rc.addr = peer;
	if (ice_agent_create(&cfg, &cb, &a))
		abort();
	ice_agent_add_host(a, &base, 65535, now);
	ice_agent_set_remote_credentials(a, RUFRAG, RPWD, now);
	ice_agent_add_remote_candidate(a, &rc, now);
	ice_agent_start(a, now);
	ice_agent_tick(a, now); /* first check in flight */

	for (int round = 0; round < (mode == 3 ? 4 : 1); round++) {
		const union sockaddr_any *src = (sel & 0x80) ? &other : &peer;
		uint16_t cls = sel & 3;

		if (mode == 0) {
			ice_agent_recv(a, &base, src, data, size, now);
		}
		if (mode == 1 || mode == 3) {
			char user[2 * ICE_CRED_MAX + 2];

			/* Our current credentials (they change on restart). */
			snprintf(user, sizeof(user), "%s:%s",
				 ice_agent_ufrag(a), RUFRAG);
			stun_tid_random(tid);
			len = build(msg, sizeof(msg),
				    stun_msg_type(STUN_METHOD_BINDING,
						  STUN_CLASS_REQUEST),
				    tid, data, size, user, ice_agent_pwd(a));
			if (len)
				ice_agent_recv(a, &base, src, msg, len, now);
		}
		if ((mode == 2 || mode == 3) && c.have_tid) {
			len = build(msg, sizeof(msg),
				    stun_msg_type(STUN_METHOD_BINDING,
						  cls == 3
							  ? STUN_CLASS_ERROR
							  : STUN_CLASS_SUCCESS),
				    c.last_tid, data, size, NULL, RPWD);
			if (len)
				ice_agent_recv(a, &base, src, msg, len, now);
		}
		if ((sel & 0x40) && round == 1) {
			/* Mid-session restart with the same peer credentials. */
			ice_agent_restart(a, now);
			ice_agent_set_remote_credentials(a, RUFRAG, RPWD, now);
			ice_agent_add_remote_candidate(a, &rc, now);
		}
		now += 1 + (sel & 0x3f) * 100;
		for (int i = 0; i < 8; i++) {
			uint64_t d = ice_agent_next_deadline(a);

			if (d > now)
				break;
			ice_agent_tick(a, now);
		}
	}
	ice_agent_get_stats(a, &st);
	if (st.pairs > ICE_MAX_PAIRS || st.remote > ICE_MAX_REMOTE ||
	    st.local > ICE_MAX_LOCAL)
		abort();
	ice_agent_destroy(a);
	return 0;
}
