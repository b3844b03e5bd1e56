// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "daemon/netcheck.h"

enum ctl_mapping netcheck_mapping(const union sockaddr_any *mapped, size_t n)
{
	if (n < 2)
		return CTL_MAPPING_UNKNOWN;
	for (size_t i = 1; i < n; i++)
		if (!addr_equal(&mapped[0], &mapped[i]))
			return CTL_MAPPING_DEPENDENT;
	return CTL_MAPPING_INDEPENDENT;
}

int netcheck_turn_probe(uint8_t *buf, size_t cap,
			const uint8_t tid[STUN_TID_LEN])
{
	struct stun_builder b;

	stun_builder_init(
		&b, buf, cap,
		stun_msg_type(STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST), tid);
	/* RFC 8656 §18.8: protocol number in the first byte */
	stun_builder_add_u32(&b, STUN_ATTR_REQUESTED_TRANSPORT,
			     (uint32_t)IPPROTO_UDP << 24);
	stun_builder_add_fingerprint(&b);
	return stun_builder_finish(&b);
}

bool netcheck_turn_answer(const struct stun_msg *msg,
			  const uint8_t tid[STUN_TID_LEN])
{
	return msg->method == STUN_METHOD_ALLOCATE &&
	       (msg->cls == STUN_CLASS_ERROR ||
		msg->cls == STUN_CLASS_SUCCESS) &&
	       !memcmp(msg->tid, tid, STUN_TID_LEN);
}
