/* SPDX-License-Identifier: MIT */
/*
 * What icemeshd keeps in its state directory beside the coordinator
 * client's own files (coord.json, netmap.json, seal-epoch):
 *
 *   node.key       the node's X25519 / WireGuard private key, base64, 0600
 *   icemeshd.json  how to reach the coordinator and whether the node is up:
 *                  {"coordinator": URL, "pin"?: PIN, "ca_file"?: FILE,
 *                   "hostname"?: NAME, "up": BOOL}
 *
 * Both are written atomically (statefile_write).
 */
#ifndef ICEMESH_DAEMON_NODESTATE_H
#define ICEMESH_DAEMON_NODESTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ctl.h"

#define NODESTATE_KEY_FILE "node.key"
#define NODESTATE_CONF_FILE "icemeshd.json"

struct nodestate_conf {
	char coordinator[CTL_URL_MAX];
	char pin[CTL_PIN_MAX];
	char ca_file[CTL_FILE_MAX];
	char hostname[CTL_NAME_MAX];
	bool up;
};

/*
 * Load dir/node.key, or make a new key and write it when there is none.
 * Returns 0 with sk/pk set, -EBADMSG for a damaged file, or -errno.
 */
int nodestate_key(const char *dir, uint8_t sk[32], uint8_t pk[32]);

/* Load dir/icemeshd.json: 0, -ENOENT (never up), -EBADMSG, -errno. */
int nodestate_conf_load(const char *dir, struct nodestate_conf *out);
int nodestate_conf_save(const char *dir, const struct nodestate_conf *c);

/* Parse a conf document (what load does after reading); for tests. */
int nodestate_conf_parse(const char *buf, size_t len,
			 struct nodestate_conf *out);

#endif
