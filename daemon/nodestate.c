// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "coordinator-client/statefile.h"
#include "daemon/nodestate.h"

static int path_of(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int nodestate_key(const char *dir, uint8_t sk[32], uint8_t pk[32])
{
	char path[PATH_MAX], b64[64];
	char *buf = NULL;
	size_t len = 0, bin_len = 0;
	uint8_t k[32];
	int r;

	if ((r = path_of(path, sizeof(path), dir, NODESTATE_KEY_FILE)))
		return r;
	r = statefile_read(path, 128, &buf, &len);
	if (r == -ENOENT) {
		crypto_box_keypair(pk, k);
		sodium_bin2base64(b64, sizeof(b64), k, 32,
				  sodium_base64_VARIANT_ORIGINAL);
		strcat(b64, "\n");
		r = statefile_write(path, b64, strlen(b64));
		sodium_memzero(b64, sizeof(b64));
		if (!r)
			memcpy(sk, k, 32);
		sodium_memzero(k, sizeof(k));
		return r;
	}
	if (r)
		return r;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	r = -EBADMSG;
	if (sodium_base642bin(k, sizeof(k), buf, len, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    bin_len == 32) {
		crypto_scalarmult_base(pk, k);
		memcpy(sk, k, 32);
		r = 0;
	}
	sodium_memzero(buf, len);
	free(buf);
	sodium_memzero(k, sizeof(k));
	return r;
}

static int get_str(json_t *o, const char *key, char *dst, size_t cap,
		   bool required)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!v)
		return required ? -EBADMSG : 0;
	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	if (strlen(s) >= cap || strpbrk(s, "\n\r"))
		return -EBADMSG;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int nodestate_conf_parse(const char *buf, size_t len,
			 struct nodestate_conf *out)
{
	struct nodestate_conf c;
	json_t *j, *up;
	int r = -EBADMSG;

	memset(&c, 0, sizeof(c));
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!j || !json_is_object(j))
		goto out;
	up = json_object_get(j, "up");
	if (!json_is_boolean(up))
		goto out;
	c.up = json_is_true(up);
	if (get_str(j, "coordinator", c.coordinator, sizeof(c.coordinator),
		    true) ||
	    get_str(j, "pin", c.pin, sizeof(c.pin), false) ||
	    get_str(j, "ca_file", c.ca_file, sizeof(c.ca_file), false) ||
	    get_str(j, "hostname", c.hostname, sizeof(c.hostname), false))
		goto out;
	*out = c;
	r = 0;
out:
	json_decref(j);
	return r;
}

int nodestate_conf_load(const char *dir, struct nodestate_conf *out)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = path_of(path, sizeof(path), dir, NODESTATE_CONF_FILE)))
		return r;
	r = statefile_read(path, 65536, &buf, &len);
	if (r)
		return r;
	r = nodestate_conf_parse(buf, len, out);
	free(buf);
	return r;
}

int nodestate_conf_save(const char *dir, const struct nodestate_conf *c)
{
	char path[PATH_MAX];
	json_malloc_t jm;
	json_free_t jf;
	json_t *j;
	char *s;
	int r;

	if ((r = path_of(path, sizeof(path), dir, NODESTATE_CONF_FILE)))
		return r;
	j = json_pack("{s:s, s:b}", "coordinator", c->coordinator, "up",
		      c->up);
	if (!j)
		return -ENOMEM;
	if (*c->pin)
		json_object_set_new(j, "pin", json_string(c->pin));
	if (*c->ca_file)
		json_object_set_new(j, "ca_file", json_string(c->ca_file));
	if (*c->hostname)
		json_object_set_new(j, "hostname", json_string(c->hostname));
	s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	r = statefile_write(path, s, strlen(s));
	/* jansson's allocator made it (a wiping one in icemeshd) */
	json_get_alloc_funcs(&jm, &jf);
	jf(s);
	return r;
}
