// SPDX-License-Identifier: MIT
#include <string.h>

#include "daemon/peerstate.h"

enum peerstate_action peerstate_on_desc(const struct peerstate_ice *s,
					uint64_t gen, uint64_t ack)
{
	if (!s->awake)
		return PEERSTATE_WAKE;
	if (gen == s->rgen)
		return PEERSTATE_IGNORE;
	if (s->rgen == 0 && ack == s->mygen)
		return PEERSTATE_ACCEPT;
	if (s->rgen != 0)
		return PEERSTATE_RESTART;
	/* ours is unanswered and theirs does not answer it: both offered,
	 * or the peer restarted before it saw ours */
	return PEERSTATE_REOFFER;
}

size_t peerstate_diff(const uint8_t (*cur)[32], size_t n_cur,
		      const uint8_t (*next)[32], size_t n_next,
		      const uint8_t self[32], long *map_to_cur, bool *keep)
{
	size_t adds = 0;

	for (size_t j = 0; j < n_cur; j++)
		keep[j] = false;
	for (size_t i = 0; i < n_next; i++) {
		map_to_cur[i] = -1;
		if (!memcmp(next[i], self, 32)) {
			map_to_cur[i] = -2;
			continue;
		}
		for (size_t j = 0; j < n_cur; j++)
			if (!keep[j] && !memcmp(cur[j], next[i], 32)) {
				map_to_cur[i] = (long)j;
				keep[j] = true;
				break;
			}
		if (map_to_cur[i] < 0) {
			/* a key twice in one map is one peer */
			bool dup = false;

			for (size_t k = 0; k < i && !dup; k++)
				dup = !memcmp(next[k], next[i], 32);
			if (dup) {
				map_to_cur[i] = -2;
				continue;
			}
			adds++;
		}
	}
	return adds;
}
