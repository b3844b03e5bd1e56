// SPDX-License-Identifier: MIT
/*
 * The coordinator's answers as the node parses them: the first byte picks
 * the parser (netmap, register, signals, error, health), the rest is the
 * body. Whatever a parser accepts must hold its invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator-client/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_netmap(const char *buf, size_t len)
{
	struct coordc_netmap *nm = NULL;

	if (coordc_parse_netmap(buf, len, &nm) != 0)
		return;
	if (nm->n_peers > COORDC_MAX_PEERS || nm->n_stun > COORDC_MAX_SERVERS)
		abort();
	for (size_t i = 0; i < nm->n_peers; i++) {
		const struct coordc_node *p = &nm->peers[i];

		if (p->id == 0 || p->id == nm->self.id ||
		    p->n_allowed_ips > COORDC_MAX_ALLOWED_IPS ||
		    strlen(p->name) == 0 || strlen(p->name) > COORDC_NAME_MAX)
			abort();
		if (coordc_netmap_find(nm, p->key) == NULL)
			abort();
	}
	coordc_netmap_free(nm);
}

static void check_signals(const char *buf, size_t len)
{
	struct coordc_signal_batch *b = NULL;

	if (coordc_parse_signals(buf, len, &b) != 0)
		return;
	for (unsigned i = 0; i < b->n; i++) {
		if (b->msgs[i].len == 0 ||
		    b->msgs[i].len > COORDC_MAX_SIGNAL_PAYLOAD)
			abort();
		if (i && b->msgs[i].seq <= b->msgs[i - 1].seq)
			abort();
	}
	if (b->n && b->cursor != b->msgs[b->n - 1].seq)
		abort();
	coordc_signal_batch_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct coordc_registration r;
	char code[COORDC_ERROR_CODE_MAX + 1];
	const char *buf = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;

	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		check_netmap(buf, len);
		break;
	case 1:
		if (coordc_parse_register(buf, len, &r) == 0 &&
		    (strlen(r.credential) == 0 || r.node.id == 0))
			abort();
		break;
	case 2:
		check_signals(buf, len);
		break;
	case 3:
		if (coordc_parse_error(buf, len, code) == 0 &&
		    strlen(code) > COORDC_ERROR_CODE_MAX)
			abort();
		break;
	default:
		coordc_parse_health(buf, len);
		break;
	}
	return 0;
}
