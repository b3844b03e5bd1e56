// SPDX-License-Identifier: MIT
#include "wireguard/replay.h"

#include <string.h>

enum {
	WORDS = WG_REPLAY_BITS_TOTAL / 64,
};

void wg_replay_init(struct wg_replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool wg_replay_check(const struct wg_replay *r, uint64_t counter)
{
	uint64_t c = counter + 1; /* 0 in r->next means "none yet" */

	if (r->next >= REJECT_AFTER_MESSAGES + 1 ||
	    counter >= REJECT_AFTER_MESSAGES)
		return false;
	if (WG_REPLAY_WINDOW + c < r->next)
		return false; /* too old */
	if (c > r->next)
		return true; /* ahead of the window */
	return !(r->bits[(c >> 6) & (WORDS - 1)] & (1ULL << (c & 63)));
}

bool wg_replay_accept(struct wg_replay *r, uint64_t counter)
{
	uint64_t c = counter + 1, index, cur, top;
	uint64_t *word, bit;

	if (!wg_replay_check(r, counter))
		return false;
	index = c >> 6;
	if (c > r->next) {
		/* slide: clear the words between the old top and the new one */
		cur = r->next >> 6;
		top = index - cur < WORDS ? index - cur : WORDS;
		for (uint64_t i = 1; i <= top; i++)
			r->bits[(i + cur) & (WORDS - 1)] = 0;
		r->next = c;
	}
	word = &r->bits[index & (WORDS - 1)];
	bit = 1ULL << (c & 63);
	*word |= bit;
	return true;
}
