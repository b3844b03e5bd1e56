/* SPDX-License-Identifier: MIT */
/*
 * TURN client (RFC 8656) over UDP: one allocation on one TURN server, as an
 * I/O-less core.
 *
 * The caller owns the socket and the clock. It hands the client every
 * datagram that came from the TURN server (turn_client_recv) and the current
 * time; the client sends through cb->send (always to cfg->server) and says
 * when it next needs to be woken (turn_client_next_deadline, then
 * turn_client_tick). Nothing here blocks, sleeps, reads a clock or opens a
 * socket, so two clients can run in one process and tests can drive a whole
 * allocation's life on a fake clock.
 *
 * What it does:
 *   - Allocate with long-term credentials (401 -> retry with REALM/NONCE,
 *     438 stale nonce -> retry with the new NONCE, for every request kind).
 *     Credentials are a plain username/password, or coturn's TURN REST API
 *     scheme (use-auth-secret): username "<expiry>:<id>", password
 *     base64(HMAC-SHA1(secret, username)).
 *   - Refresh the allocation before its lifetime ends.
 *   - CreatePermission per peer IP, refreshed before 5 minutes (RFC 8656
 *     §9); ChannelBind per peer transport address, refreshed before 10
 *     minutes (§12).
 *   - Data to a peer: ChannelData once the peer's channel is bound, a Send
 *     indication before. Data from a peer (Data indication or ChannelData)
 *     comes out of cb->data.
 *   - Retransmission of requests (RFC 8489 §6.2.1: RTO doubling, Rc tries).
 *   - Deallocation (Refresh with LIFETIME 0) on turn_client_close.
 *
 * Times are milliseconds on any monotonic clock the caller likes; "now" must
 * never go backwards.
 */
#ifndef ICEMESH_ICE_TURN_H
#define ICEMESH_ICE_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

enum {
	TURN_DEFAULT_LIFETIME_S = 600, /* RFC 8656 §2.2 */
	TURN_PERMISSION_LIFETIME_S = 300, /* RFC 8656 §9 */
	TURN_CHANNEL_LIFETIME_S = 600, /* RFC 8656 §12 */
	TURN_CHANNEL_MIN = 0x4000, /* RFC 8656 §12 */
	TURN_CHANNEL_MAX = 0x4FFF, /* RFC 8656 §12 */
	TURN_MAX_PEERS = 64, /* permissions+channels per client */
	TURN_MAX_DATA = 1500, /* largest payload to/from a peer */
	TURN_CRED_MAX = 256, /* username, password, realm, nonce */
};

enum turn_state {
	TURN_STATE_IDLE, /* created, not started */
	TURN_STATE_ALLOCATING, /* Allocate in flight (maybe after a 401) */
	TURN_STATE_ALLOCATED, /* relayed address usable */
	TURN_STATE_CLOSING, /* Refresh(LIFETIME 0) in flight */
	TURN_STATE_CLOSED, /* deallocated (or gave up closing) */
	TURN_STATE_FAILED, /* allocation refused, lost or timed out */
};

struct turn_config {
	/* The TURN server, where every packet goes and whence replies come. */
	union sockaddr_any server;
	/*
	 * Long-term credentials: either username + password, or rest_secret
	 * (coturn use-auth-secret), in which case the client makes its own
	 * username "<rest_expiry>:<rest_id>" and the password from the secret.
	 * rest_expiry is a Unix time (the caller reads the wall clock).
	 * Round it (e.g. to the hour) so that a restart makes the same
	 * username: a server still holding our old allocation answers 437,
	 * and only the username that made it may delete it. Strings are
	 * copied; secrets are wiped on destroy.
	 */
	const char *username;
	const char *password;
	const char *rest_secret;
	const char *rest_id; /* default "icemesh" */
	uint64_t rest_expiry; /* Unix seconds; required with rest_secret */
	const char *software; /* SOFTWARE attribute; NULL: none */
	/* LIFETIME asked for in Allocate and Refresh; 0: the default 600 s. */
	uint32_t lifetime_s;
	/* Relayed address family (REQUESTED-ADDRESS-FAMILY); 0 = AF_INET. */
	int relay_family;
	/*
	 * Refresh intervals for permissions and channels; 0: the defaults
	 * (240 s and 540 s, i.e. a minute before RFC 8656's lifetimes end).
	 * The lab shortens them together with coturn's lifetimes.
	 */
	uint32_t permission_refresh_ms;
	uint32_t channel_refresh_ms;
	/* First retransmission timeout and number of tries; 0: 500 ms, 7. */
	uint32_t rto_ms;
	uint32_t max_tries;
	/*
	 * When true, the first turn_client_send to a peer also binds a
	 * channel for it, so later data goes as ChannelData.
	 */
	bool auto_channel;
};

struct turn_callbacks {
	/* Required. Send one datagram to `to` (always the configured server). */
	void (*send)(void *arg, const union sockaddr_any *to,
		     const uint8_t *buf, size_t len);
	/*
	 * The allocation succeeded (once per allocation): relayed address
	 * (the relay candidate), the server-reflexive address the server saw
	 * (XOR-MAPPED-ADDRESS), and the granted lifetime.
	 */
	void (*allocated)(void *arg, const union sockaddr_any *relayed,
			  const union sockaddr_any *mapped,
			  uint32_t lifetime_s);
	/*
	 * The allocation failed or was lost: err is -EACCES (credentials
	 * refused), -ETIMEDOUT (no answer), -ECONNREFUSED (another STUN error,
	 * stun_code set, e.g. 486 quota or 508 capacity), -ENOTCONN (allocation
	 * gone on the server: 437 on Refresh). reason is a short text for a
	 * log line, valid during the call. After this the client is FAILED;
	 * start it again (turn_client_start) to try anew.
	 */
	void (*failed)(void *arg, int err, int stun_code, const char *reason);
	/* Data from a peer through the relay; buf valid during the call. */
	void (*data)(void *arg, const union sockaddr_any *peer,
		     const uint8_t *buf, size_t len);
	/*
	 * Optional: a permission (channel == 0) or a channel binding for
	 * peer was installed (ok) or refused/timed out (!ok).
	 */
	void (*peer)(void *arg, const union sockaddr_any *peer,
		     uint16_t channel, bool ok);
	void *arg;
};

struct turn_stats {
	uint64_t requests_sent; /* first transmissions */
	uint64_t retransmits;
	uint64_t auth_retries; /* 401 answered with credentials */
	uint64_t stale_nonces; /* 438 recovered from */
	uint64_t refreshes; /* successful allocation Refreshes */
	uint64_t
		permission_refreshes; /* successful CreatePermission, not first */
	uint64_t channel_refreshes; /* successful ChannelBind, not first */
	uint64_t data_sent_indication;
	uint64_t data_sent_channel;
	uint64_t data_recv_indication;
	uint64_t data_recv_channel;
	uint64_t dropped; /* malformed, unauthenticated, unknown */
};

struct turn_client;

/*
 * Make a client; nothing is sent until turn_client_start. cfg and its
 * strings are copied, cb is copied. Returns 0 and *out (freed with
 * turn_client_destroy), or -EINVAL (missing server, credentials or send
 * callback; string too long) or -ENOMEM.
 */
int turn_client_create(const struct turn_config *cfg,
		       const struct turn_callbacks *cb,
		       struct turn_client **out);
/* Free everything and wipe the credentials. Sends nothing. NULL is fine. */
void turn_client_destroy(struct turn_client *c);

/*
 * Send the first Allocate. Allowed in IDLE, FAILED and CLOSED (starting a
 * fresh allocation; permissions and channels are forgotten). -EALREADY
 * otherwise.
 */
int turn_client_start(struct turn_client *c, uint64_t now);

/*
 * A datagram that arrived on the shared socket. Returns true when it was
 * for this client (came from the server and is a STUN response or
 * indication of ours, or ChannelData on one of our channels) and has been
 * consumed, false when the caller should classify it elsewhere. Malformed
 * or unauthenticated packets from the server are consumed and counted.
 */
bool turn_client_recv(struct turn_client *c, const union sockaddr_any *from,
		      const uint8_t *buf, size_t len, uint64_t now);

/*
 * Send data to a peer through the relay: ChannelData when the peer's
 * channel is bound, otherwise a Send indication (and, if no permission
 * exists for the peer's IP yet, a CreatePermission first; with
 * cfg->auto_channel a ChannelBind). Returns 0, -ENOTCONN when not
 * ALLOCATED, -EMSGSIZE above TURN_MAX_DATA, -ENOSPC when TURN_MAX_PEERS
 * peers are already known, -EAFNOSUPPORT for a peer of the wrong family.
 */
int turn_client_send(struct turn_client *c, const union sockaddr_any *peer,
		     const uint8_t *buf, size_t len, uint64_t now);

/*
 * Install (and keep refreshing) a permission for peer's IP address, so
 * that the peer's packets reach us (what ICE does for each remote
 * candidate). Returns 0 (also when it exists already), -ENOTCONN,
 * -ENOSPC, -EAFNOSUPPORT.
 */
int turn_client_permit(struct turn_client *c, const union sockaddr_any *peer,
		       uint64_t now);

/*
 * Bind a channel to peer (implies the permission), kept refreshed; data to
 * and from peer then goes as ChannelData once the server confirms. Same
 * returns as turn_client_permit.
 */
int turn_client_bind_channel(struct turn_client *c,
			     const union sockaddr_any *peer, uint64_t now);

/* When turn_client_tick wants to run next; UINT64_MAX for never. */
uint64_t turn_client_next_deadline(const struct turn_client *c);
/* Retransmit, refresh and time out whatever is due at now. */
void turn_client_tick(struct turn_client *c, uint64_t now);

/*
 * Deallocate: Refresh with LIFETIME 0 (retransmitted like any request),
 * then CLOSED. Permissions and channels go with the allocation. In any
 * state but ALLOCATED it just moves to CLOSED, sending nothing.
 */
void turn_client_close(struct turn_client *c, uint64_t now);

enum turn_state turn_client_state(const struct turn_client *c);
const char *turn_state_name(enum turn_state s);
/* The relayed / mapped address; 0, or -ENOTCONN before ALLOCATED. */
int turn_client_relayed(const struct turn_client *c, union sockaddr_any *out);
int turn_client_mapped(const struct turn_client *c, union sockaddr_any *out);
/* True when peer's channel is bound (data to it goes as ChannelData). */
bool turn_client_has_channel(const struct turn_client *c,
			     const union sockaddr_any *peer);
void turn_client_stats(const struct turn_client *c, struct turn_stats *out);

/*
 * coturn's TURN REST API credentials (also what the coordinator hands
 * out): username "<expiry>:<id>", password base64(HMAC-SHA1(secret,
 * username)). Writes NUL-terminated strings. Returns 0, or -ENOSPC when a
 * buffer is too small, -EINVAL for an empty secret, -EIO if HMAC fails.
 */
int turn_rest_credentials(const char *secret, const char *id, uint64_t expiry,
			  char *user, size_t user_len, char *pass,
			  size_t pass_len);

#endif
