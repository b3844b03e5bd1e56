// SPDX-License-Identifier: MIT
#include "coordinator-client/sealbox.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coordinator-client/statefile.h"

enum {
	DEFAULT_MAX_AGE_MS = 120000,
	DEFAULT_MAX_FUTURE_MS = 120000,
};

/* What we know about one peer: the shared key and its replay window. */
struct peer {
	uint8_t pk[SEALBOX_KEY_LEN];
	uint8_t k[crypto_box_BEFORENMBYTES];
	uint64_t rx_epoch;
	uint64_t rx_counter; /* highest counter seen in rx_epoch */
	uint64_t rx_window; /* bit i: rx_counter - i seen */
	uint64_t last_used; /* tick, for LRU eviction */
	bool rx_any;
};

struct sealbox {
	uint8_t sk[SEALBOX_KEY_LEN];
	uint8_t pk[SEALBOX_KEY_LEN];
	uint64_t epoch;
	uint64_t counter; /* last counter sealed */
	uint64_t tick;
	struct sealbox_config cfg;
	struct peer *peers;
	uint32_t n_peers;
};

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

struct sealbox *sealbox_new(const uint8_t sk[SEALBOX_KEY_LEN],
			    const uint8_t pk[SEALBOX_KEY_LEN], uint64_t epoch,
			    const struct sealbox_config *cfg)
{
	struct sealbox *sb;

	if (!sk || !pk || sodium_init() < 0)
		return NULL;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return NULL;
	memcpy(sb->sk, sk, SEALBOX_KEY_LEN);
	memcpy(sb->pk, pk, SEALBOX_KEY_LEN);
	sb->epoch = epoch;
	if (cfg)
		sb->cfg = *cfg;
	if (!sb->cfg.max_age_ms)
		sb->cfg.max_age_ms = DEFAULT_MAX_AGE_MS;
	if (!sb->cfg.max_future_ms)
		sb->cfg.max_future_ms = DEFAULT_MAX_FUTURE_MS;
	if (!sb->cfg.max_peers || sb->cfg.max_peers > SEALBOX_MAX_PEERS)
		sb->cfg.max_peers = SEALBOX_MAX_PEERS;
	sb->peers = calloc(sb->cfg.max_peers, sizeof(*sb->peers));
	if (!sb->peers) {
		sealbox_free(sb);
		return NULL;
	}
	return sb;
}

void sealbox_free(struct sealbox *sb)
{
	if (!sb)
		return;
	if (sb->peers) {
		sodium_memzero(sb->peers,
			       sb->cfg.max_peers * sizeof(*sb->peers));
		free(sb->peers);
	}
	sodium_memzero(sb, sizeof(*sb));
	free(sb);
}

void sealbox_set_not_before(struct sealbox *sb, uint64_t not_before_ms)
{
	sb->cfg.not_before_ms = not_before_ms;
}

static struct peer *peer_find(struct sealbox *sb,
			      const uint8_t pk[SEALBOX_KEY_LEN])
{
	for (uint32_t i = 0; i < sb->n_peers; i++)
		if (sodium_memcmp(sb->peers[i].pk, pk, SEALBOX_KEY_LEN) == 0)
			return &sb->peers[i];
	return NULL;
}

/* A free slot, or the least recently used one, wiped. */
static struct peer *peer_slot(struct sealbox *sb)
{
	struct peer *p = NULL;

	if (sb->n_peers < sb->cfg.max_peers) {
		p = &sb->peers[sb->n_peers++];
	} else {
		p = &sb->peers[0];
		for (uint32_t i = 1; i < sb->n_peers; i++)
			if (sb->peers[i].last_used < p->last_used)
				p = &sb->peers[i];
	}
	sodium_memzero(p, sizeof(*p));
	return p;
}

/*
 * The cached entry for pk into *out, or, when there is none, a fresh one in
 * *tmp that the caller commits with peer_commit once it is worth keeping:
 * an opener adds a peer only after a message of it authenticated, so junk
 * under made-up keys cannot evict the replay state of real peers.
 */
static int peer_get(struct sealbox *sb, const uint8_t pk[SEALBOX_KEY_LEN],
		    struct peer *tmp, struct peer **out)
{
	struct peer *p = peer_find(sb, pk);

	if (p) {
		p->last_used = ++sb->tick;
		*out = p;
		return 0;
	}
	sodium_memzero(tmp, sizeof(*tmp));
	/* A low-order or otherwise degenerate key gives no shared secret. */
	if (crypto_box_beforenm(tmp->k, pk, sb->sk) != 0)
		return -EINVAL;
	memcpy(tmp->pk, pk, SEALBOX_KEY_LEN);
	*out = tmp;
	return 0;
}

static struct peer *peer_commit(struct sealbox *sb, struct peer *p,
				struct peer *tmp)
{
	struct peer *slot;

	if (p != tmp)
		return p;
	slot = peer_slot(sb);
	*slot = *tmp;
	slot->last_used = ++sb->tick;
	sodium_memzero(tmp, sizeof(*tmp));
	return slot;
}

int sealbox_seal(struct sealbox *sb, const uint8_t peer_pk[SEALBOX_KEY_LEN],
		 const void *msg, size_t len, uint64_t now_ms, uint8_t *out,
		 size_t out_cap, size_t *out_len)
{
	uint8_t *plain = NULL;
	size_t plain_len = SEALBOX_HDR_LEN + len;
	struct peer tmp, *p;
	int ret;

	if (len > SEALBOX_MAX_PAYLOAD || (len && !msg))
		return -EINVAL;
	if (out_cap < len + SEALBOX_OVERHEAD)
		return -ENOBUFS;
	if (sb->counter == UINT64_MAX)
		return -EOVERFLOW;
	ret = peer_get(sb, peer_pk, &tmp, &p);
	if (ret) {
		sodium_memzero(&tmp, sizeof(tmp));
		return ret;
	}
	p = peer_commit(sb, p, &tmp);
	plain = malloc(plain_len);
	if (!plain)
		return -ENOMEM;
	memcpy(plain, peer_pk, SEALBOX_KEY_LEN);
	put_be64(plain + 32, sb->epoch);
	put_be64(plain + 40, ++sb->counter);
	put_be64(plain + 48, now_ms);
	if (len)
		memcpy(plain + SEALBOX_HDR_LEN, msg, len);
	out[0] = SEALBOX_VERSION;
	randombytes_buf(out + 1, SEALBOX_NONCE_LEN);
	ret = crypto_box_easy_afternm(out + 1 + SEALBOX_NONCE_LEN, plain,
				      plain_len, out + 1, p->k);
	sodium_memzero(plain, plain_len);
	free(plain);
	if (ret != 0)
		return -EINVAL;
	*out_len = len + SEALBOX_OVERHEAD;
	return 0;
}

/* Replay check (WireGuard-style sliding window); records on accept. */
static int replay_check(struct peer *p, uint64_t epoch, uint64_t counter)
{
	uint64_t back;

	if (!p->rx_any || epoch > p->rx_epoch) {
		p->rx_any = true;
		p->rx_epoch = epoch;
		p->rx_counter = counter;
		p->rx_window = 1;
		return 0;
	}
	if (epoch < p->rx_epoch)
		return -EALREADY;
	if (counter > p->rx_counter) {
		uint64_t shift = counter - p->rx_counter;

		p->rx_window =
			shift >= SEALBOX_WINDOW ? 0 : p->rx_window << shift;
		p->rx_window |= 1;
		p->rx_counter = counter;
		return 0;
	}
	back = p->rx_counter - counter;
	if (back >= SEALBOX_WINDOW || (p->rx_window & (1ULL << back)))
		return -EALREADY;
	p->rx_window |= 1ULL << back;
	return 0;
}

static int check_time(const struct sealbox *sb, uint64_t sent, uint64_t now)
{
	if (sent < sb->cfg.not_before_ms)
		return -ETIME;
	if (sent > now && sent - now > sb->cfg.max_future_ms)
		return -ETIME;
	if (now > sent && now - sent > sb->cfg.max_age_ms)
		return -ETIME;
	return 0;
}

int sealbox_open(struct sealbox *sb, const uint8_t peer_pk[SEALBOX_KEY_LEN],
		 const uint8_t *in, size_t in_len, uint64_t now_ms,
		 uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t plain_len, len;
	uint8_t *plain = NULL;
	uint64_t epoch, counter, sent;
	struct peer tmp, *p;
	int ret;

	if (!in || in_len < SEALBOX_OVERHEAD || in_len > SEALBOX_MAX_SEALED ||
	    in[0] != SEALBOX_VERSION)
		return -EBADMSG;
	len = in_len - SEALBOX_OVERHEAD;
	if (out_cap < len)
		return -ENOBUFS;
	ret = peer_get(sb, peer_pk, &tmp, &p);
	if (ret) {
		ret = -EBADMSG;
		goto out;
	}
	plain_len = in_len - 1 - SEALBOX_NONCE_LEN - SEALBOX_MAC_LEN;
	plain = malloc(plain_len);
	if (!plain) {
		ret = -ENOMEM;
		goto out;
	}
	if (crypto_box_open_easy_afternm(plain, in + 1 + SEALBOX_NONCE_LEN,
					 in_len - 1 - SEALBOX_NONCE_LEN, in + 1,
					 p->k) != 0) {
		ret = -EBADMSG;
		goto out;
	}
	if (sodium_memcmp(plain, sb->pk, SEALBOX_KEY_LEN) != 0) {
		ret = -EBADMSG; /* for another node, or reflected */
		goto out;
	}
	epoch = get_be64(plain + 32);
	counter = get_be64(plain + 40);
	sent = get_be64(plain + 48);
	ret = check_time(sb, sent, now_ms);
	if (ret)
		goto out;
	p = peer_commit(sb, p, &tmp);
	ret = replay_check(p, epoch, counter);
	if (ret)
		goto out;
	if (len)
		memcpy(out, plain + SEALBOX_HDR_LEN, len);
	*out_len = len;
out:
	if (plain) {
		sodium_memzero(plain, plain_len);
		free(plain);
	}
	sodium_memzero(&tmp, sizeof(tmp));
	return ret;
}

int sealbox_epoch_next(const char *path, uint64_t now_ms, uint64_t *out)
{
	char *text = NULL, *end, buf[32];
	uint64_t last = 0, next;
	size_t len;
	int ret, n;

	ret = statefile_read(path, 64, &text, &len);
	if (ret == 0) {
		errno = 0;
		last = strtoull(text, &end, 10);
		if (errno || end == text || (*end && *end != '\n')) {
			free(text);
			return -EINVAL;
		}
		free(text);
	} else if (ret != -ENOENT) {
		return ret;
	}
	if (last == UINT64_MAX)
		return -EOVERFLOW;
	next = now_ms > last ? now_ms : last + 1;
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", next);
	ret = statefile_write(path, buf, (size_t)n);
	if (ret)
		return ret;
	*out = next;
	return 0;
}
