/* SPDX-License-Identifier: MIT */
/*
 * Sealed signal messages between two nodes.
 *
 * ICE offers, answers and candidates travel node to node through the
 * coordinator. The coordinator routes them but must neither read, forge nor
 * replay them, so each one is sealed with crypto_box (X25519 of the two
 * nodes' identity keys + XSalsa20-Poly1305, random 24-byte nonce) and
 * carries, inside the box:
 *
 *   recipient public key  32  refuses a message reflected back at its sender
 *                             (both directions share one X25519 key)
 *   sender epoch           8  big endian; grows with every start of the sender
 *   sender counter         8  big endian; grows with every message of an epoch
 *   sender wall time (ms)  8  big endian; bounds how long a message is good
 *   payload              0..SEALBOX_MAX_PAYLOAD
 *
 * On the wire: version byte (1) | nonce (24) | MAC (16) | ciphertext.
 *
 * The recipient keeps, per sender, the newest epoch seen, the highest
 * counter of it and a 64-message window below that. It refuses:
 *   - anything that does not authenticate (tampered, other key)  -EBADMSG
 *   - a message addressed to another node                        -EBADMSG
 *   - a counter seen before, below the window, or an older epoch -EALREADY
 *   - a wall time older than max_age_ms or too far in the future -ETIME
 *   - a wall time before the recipient's not_before_ms           -ETIME
 * A newer epoch (the sender restarted) resets that sender's window.
 *
 * Restarts. The sender's epoch must grow across its restarts even if its
 * clock went backwards: sealbox_epoch_next() takes max(wall ms, last + 1) and
 * persists it. The recipient's replay state lives in memory; after the
 * recipient restarts, not_before_ms (set to its start time by the caller)
 * refuses everything sealed before it started, so messages recorded earlier
 * cannot be replayed at it either.
 *
 * The shared key per peer is computed once (crypto_box_beforenm) and cached;
 * the table is capped at SEALBOX_MAX_PEERS, the least recently used entry is
 * evicted (its replay state goes with it; max_age_ms bounds what that opens).
 * All key material is wiped with sodium_memzero.
 */
#ifndef ICEMESH_COORDC_SEALBOX_H
#define ICEMESH_COORDC_SEALBOX_H

#include <stddef.h>
#include <stdint.h>

enum {
	SEALBOX_KEY_LEN = 32,
	SEALBOX_VERSION = 1,
	SEALBOX_NONCE_LEN = 24,
	SEALBOX_MAC_LEN = 16,
	SEALBOX_HDR_LEN = 32 + 8 + 8 + 8,
	/* A sealed message fits the coordinator's 16384-byte signal payload. */
	SEALBOX_MAX_SEALED = 16384,
	/* Bytes a sealed message adds to its payload. */
	SEALBOX_OVERHEAD =
		1 + SEALBOX_NONCE_LEN + SEALBOX_MAC_LEN + SEALBOX_HDR_LEN,
	SEALBOX_MAX_PAYLOAD = SEALBOX_MAX_SEALED - SEALBOX_OVERHEAD,
	SEALBOX_MAX_PEERS = 4096,
	SEALBOX_WINDOW = 64,
};

struct sealbox_config {
	/* Refuse messages older than this (default 120 s). */
	uint64_t max_age_ms;
	/* Refuse messages dated further ahead than this (default 120 s). */
	uint64_t max_future_ms;
	/* Refuse messages sealed before this wall time (ms); 0: no bound. */
	uint64_t not_before_ms;
	/* Cap on cached peers (default and maximum SEALBOX_MAX_PEERS). */
	uint32_t max_peers;
};

struct sealbox;

/*
 * A sealer/opener for one node. sk/pk are the node's X25519 key pair (copied;
 * wipe yours when you like). epoch is this start's epoch (sealbox_epoch_next).
 * cfg may be NULL for the defaults. Returns NULL on bad arguments or ENOMEM.
 * Free with sealbox_free.
 */
struct sealbox *sealbox_new(const uint8_t sk[SEALBOX_KEY_LEN],
			    const uint8_t pk[SEALBOX_KEY_LEN], uint64_t epoch,
			    const struct sealbox_config *cfg);
void sealbox_free(struct sealbox *sb);

/*
 * Seal len bytes for peer_pk at wall time now_ms into out (out_cap bytes,
 * at least len + SEALBOX_OVERHEAD). *out_len gets the sealed length.
 * Returns 0, -EINVAL (len > SEALBOX_MAX_PAYLOAD, bad key), -ENOBUFS,
 * -ENOMEM, or -EOVERFLOW once the counter is spent.
 */
int sealbox_seal(struct sealbox *sb, const uint8_t peer_pk[SEALBOX_KEY_LEN],
		 const void *msg, size_t len, uint64_t now_ms, uint8_t *out,
		 size_t out_cap, size_t *out_len);

/*
 * Open a message sealed by peer_pk for us, at wall time now_ms, into out
 * (out_cap bytes, at least in_len - SEALBOX_OVERHEAD). On success the
 * message is recorded as seen and *out_len is the payload length.
 * Returns 0, -EBADMSG, -EALREADY, -ETIME, -ENOBUFS or -ENOMEM (see above).
 */
int sealbox_open(struct sealbox *sb, const uint8_t peer_pk[SEALBOX_KEY_LEN],
		 const uint8_t *in, size_t in_len, uint64_t now_ms,
		 uint8_t *out, size_t out_cap, size_t *out_len);

/* Set the recipient's lower time bound (see not_before_ms). */
void sealbox_set_not_before(struct sealbox *sb, uint64_t not_before_ms);

/*
 * The next sender epoch: max(now_ms, last + 1) where last is read from the
 * file at path (absent: 0); the result is written back atomically (tmp file,
 * fsync, rename, mode 0600) before it is returned in *out.
 * Returns 0 or a negative errno (a corrupt file is -EINVAL, left alone).
 */
int sealbox_epoch_next(const char *path, uint64_t now_ms, uint64_t *out);

#endif
