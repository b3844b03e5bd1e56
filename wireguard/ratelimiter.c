// SPDX-License-Identifier: MIT
#include "wireguard/ratelimiter.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum {
	PACKET_COST_US = 1000000 / RATELIMIT_PACKETS_PER_SECOND,
	TOKEN_MAX_US = PACKET_COST_US * RATELIMIT_PACKETS_BURSTABLE,
	IDLE_US = 1000000, /* an entry idle this long may be reused */
};

int wg_ratelimiter_init(struct wg_ratelimiter *rl, uint32_t sets,
			const uint8_t key[16])
{
	if (!sets)
		sets = RATELIMIT_DEFAULT_SETS;
	if (sets & (sets - 1))
		return -EINVAL;
	rl->table = calloc((size_t)sets * RATELIMIT_WAYS, sizeof(*rl->table));
	if (!rl->table)
		return -ENOMEM;
	rl->sets = sets;
	memcpy(rl->key, key, sizeof(rl->key));
	return 0;
}

void wg_ratelimiter_free(struct wg_ratelimiter *rl)
{
	if (!rl)
		return;
	free(rl->table);
	sodium_memzero(rl, sizeof(*rl));
}

/* The limited unit: the IPv4 address, or the /64 of an IPv6 one. */
static bool source_of(const union sockaddr_any *src, uint8_t ip[8],
		      uint8_t *family)
{
	memset(ip, 0, 8);
	if (src->sa.sa_family == AF_INET) {
		memcpy(ip, &src->in4.sin_addr, 4);
		*family = 4;
		return true;
	}
	if (src->sa.sa_family == AF_INET6) {
		memcpy(ip, &src->in6.sin6_addr, 8);
		*family = 6;
		return true;
	}
	return false;
}

static bool take(struct wg_ratelimiter_entry *e, uint64_t now_us)
{
	uint64_t t =
		e->tokens_us + (now_us > e->last_us ? now_us - e->last_us : 0);

	e->tokens_us = t > TOKEN_MAX_US ? TOKEN_MAX_US : t;
	e->last_us = now_us;
	if (e->tokens_us < PACKET_COST_US)
		return false;
	e->tokens_us -= PACKET_COST_US;
	return true;
}

bool wg_ratelimiter_allow(struct wg_ratelimiter *rl,
			  const union sockaddr_any *src, uint64_t now_ms)
{
	struct wg_ratelimiter_entry *set, *spare = NULL;
	uint64_t now_us = now_ms * 1000, h;
	uint8_t ip[9], family;

	if (!source_of(src, ip, &family))
		return false;
	ip[8] = family;
	crypto_shorthash((uint8_t *)&h, ip, sizeof(ip), rl->key);
	set = &rl->table[(h & (rl->sets - 1)) * RATELIMIT_WAYS];
	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		struct wg_ratelimiter_entry *e = &set[i];

		if (e->family == family && !memcmp(e->ip, ip, 8))
			return take(e, now_us);
		/* free, or idle long enough to have refilled anyway */
		if (!spare && (!e->family || now_us >= e->last_us + IDLE_US))
			spare = e;
	}
	if (!spare)
		return false; /* the set is busy: refuse rather than grow */
	memcpy(spare->ip, ip, 8);
	spare->family = family;
	spare->last_us = now_us;
	spare->tokens_us = TOKEN_MAX_US - PACKET_COST_US;
	return true;
}
