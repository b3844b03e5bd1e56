// SPDX-License-Identifier: MIT
#include "coordinator/req.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int coord_error_set(struct coord_error *err, int status, const char *code,
		    const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int coord_b64_decode_exact(const char *s, size_t slen, uint8_t *out,
			   size_t outlen)
{
	size_t got = 0;
	const char *end = NULL;

	/* Padding is required, so the length is known exactly up front. */
	if (slen == 0 || slen % 4 != 0 || slen / 4 * 3 < outlen ||
	    slen / 4 * 3 > outlen + 2)
		return -EINVAL;
	if (sodium_base642bin(out, outlen, s, slen, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -EINVAL;
	if (end != s + slen || got != outlen)
		return -EINVAL;
	return 0;
}

int coord_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	if (outlen <
	    sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
		return -ENOSPC;
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

bool coord_hostname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > COORD_MAX_HOSTNAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool msgid_valid(const char *s, size_t n)
{
	if (n == 0 || n > COORD_MAX_MSGID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* Load a body that must be one JSON object. */
static json_t *load_object(const char *body, size_t len,
			   struct coord_error *err)
{
	json_error_t jerr;
	json_t *root;

	if (len > COORD_MAX_BODY) {
		coord_error_set(err, 413, "body_too_large",
				"request body over %d bytes", COORD_MAX_BODY);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		coord_error_set(err, 400, "malformed_json",
				"invalid JSON at line %d column %d: %s",
				jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		coord_error_set(err, 400, "malformed_json",
				"request body must be a JSON object");
		return NULL;
	}
	return root;
}

/* Every key of obj must be one of names[]; returns 0 or -EINVAL. */
static int check_fields(json_t *obj, const char *const *names, size_t n,
			struct coord_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool known = false;
		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(key, names[i]) == 0;
		if (!known)
			return coord_error_set(err, 400, "unknown_field",
					       "unknown field \"%.64s\"", key);
	}
	return 0;
}

/* A required or optional string field; *out NULL when absent. */
static int get_string(json_t *obj, const char *name, bool required,
		      size_t maxlen, const char **out, size_t *outlen,
		      struct coord_error *err)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	*outlen = 0;
	if (!v) {
		if (required)
			return coord_error_set(err, 400, "missing_field",
					       "field \"%s\" is required",
					       name);
		return 0;
	}
	if (!json_is_string(v))
		return coord_error_set(err, 400, "invalid_field",
				       "field \"%s\" must be a string", name);
	*outlen = json_string_length(v);
	if (*outlen == 0 || *outlen > maxlen)
		return coord_error_set(err, 400, "invalid_field",
				       "field \"%s\" must be 1..%zu characters",
				       name, maxlen);
	*out = json_string_value(v);
	/* jansson refuses \u0000 by default; stay safe if that ever changes */
	if (memchr(*out, '\0', *outlen))
		return coord_error_set(err, 400, "invalid_field",
				       "field \"%s\" contains NUL", name);
	return 0;
}

int coord_req_parse_register(const char *body, size_t len,
			     struct coord_register_req *out,
			     struct coord_error *err)
{
	static const char *const fields[] = { "auth_key", "node_key",
					      "hostname" };
	struct coord_register_req r;
	const char *s;
	size_t n;
	json_t *root;
	int ret;

	root = load_object(body, len, err);
	if (!root)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	ret = check_fields(root, fields, 3, err);
	if (ret)
		goto out;
	ret = get_string(root, "auth_key", true, COORD_MAX_AUTHKEY_LEN, &s, &n,
			 err);
	if (ret)
		goto out;
	memcpy(r.auth_key, s, n);
	ret = get_string(root, "node_key", true, COORD_KEY_B64_LEN + 16, &s, &n,
			 err);
	if (ret)
		goto out;
	if (n != COORD_KEY_B64_LEN ||
	    coord_b64_decode_exact(s, n, r.node_key, COORD_KEY_LEN) != 0) {
		ret = coord_error_set(
			err, 400, "invalid_field",
			"\"node_key\" must be base64 of 32 bytes");
		goto out;
	}
	ret = get_string(root, "hostname", false, COORD_MAX_HOSTNAME, &s, &n,
			 err);
	if (ret)
		goto out;
	if (s) {
		memcpy(r.hostname, s, n);
		if (!coord_hostname_valid(r.hostname)) {
			ret = coord_error_set(
				err, 400, "invalid_field",
				"\"hostname\" must be 1..63 of [A-Za-z0-9-]");
			goto out;
		}
	}
	*out = r;
out:
	sodium_memzero(&r, sizeof(r));
	json_decref(root);
	return ret;
}

static int get_node_id(json_t *obj, const char *name, uint64_t *out,
		       struct coord_error *err)
{
	json_t *v = json_object_get(obj, name);
	json_int_t i;

	if (!v)
		return coord_error_set(err, 400, "missing_field",
				       "field \"%s\" is required", name);
	if (!json_is_integer(v))
		return coord_error_set(err, 400, "invalid_field",
				       "field \"%s\" must be an integer", name);
	i = json_integer_value(v);
	if (i < 1 || (uint64_t)i > COORD_MAX_NODE_ID)
		return coord_error_set(err, 400, "invalid_field",
				       "field \"%s\" is out of range", name);
	*out = (uint64_t)i;
	return 0;
}

/* The decoded payload into out->payload; exact length checks first. */
static int get_payload(json_t *obj, struct coord_signal_req *out,
		       struct coord_error *err)
{
	const size_t maxb64 =
		sodium_base64_ENCODED_LEN(COORD_MAX_PAYLOAD,
					  sodium_base64_VARIANT_ORIGINAL) -
		1;
	const char *s, *end = NULL;
	size_t n, got = 0;
	int ret;

	ret = get_string(obj, "payload", true, maxb64, &s, &n, err);
	if (ret)
		return ret;
	if (n % 4 != 0 ||
	    sodium_base642bin(out->payload, sizeof(out->payload), s, n, NULL,
			      &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + n || got == 0)
		return coord_error_set(
			err, 400, "invalid_field",
			"\"payload\" must be base64 of 1..%d bytes",
			COORD_MAX_PAYLOAD);
	out->payload_len = got;
	return 0;
}

int coord_req_parse_signal(const char *body, size_t len,
			   struct coord_signal_req *out,
			   struct coord_error *err)
{
	static const char *const fields[] = { "to", "id", "payload" };
	const char *s;
	size_t n;
	json_t *root;
	int ret;

	root = load_object(body, len, err);
	if (!root)
		return -EINVAL;
	ret = check_fields(root, fields, 3, err);
	if (ret)
		goto out;
	ret = get_node_id(root, "to", &out->to, err);
	if (ret)
		goto out;
	ret = get_string(root, "id", true, COORD_MAX_MSGID, &s, &n, err);
	if (ret)
		goto out;
	if (!msgid_valid(s, n)) {
		ret = coord_error_set(err, 400, "invalid_field",
				      "\"id\" must be 1..64 of [A-Za-z0-9_.-]");
		goto out;
	}
	memcpy(out->id, s, n);
	out->id[n] = '\0';
	ret = get_payload(root, out, err);
out:
	json_decref(root);
	return ret;
}

void coord_query_init(struct coord_query *q)
{
	memset(q, 0, sizeof(*q));
	q->limit = COORD_MAX_SIGNAL_LIMIT;
}

/* Plain decimal, no sign, no spaces, no leading zeros beyond "0", <= max. */
static int parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int coord_query_add(struct coord_query *q, unsigned allowed, const char *key,
		    const char *value, struct coord_error *err)
{
	static const struct {
		const char *name;
		unsigned bit;
		uint64_t min, max;
	} params[] = {
		{ "since", COORD_Q_SINCE, 0, UINT64_MAX },
		{ "wait", COORD_Q_WAIT, 0, COORD_MAX_WAIT_S },
		{ "after", COORD_Q_AFTER, 0, COORD_MAX_NODE_ID },
		{ "limit", COORD_Q_LIMIT, 1, COORD_MAX_SIGNAL_LIMIT },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (strcmp(key, params[i].name) != 0 ||
		    !(allowed & params[i].bit))
			continue;
		if (q->seen & params[i].bit)
			return coord_error_set(err, 400, "invalid_parameter",
					       "parameter \"%s\" given twice",
					       key);
		if (parse_dec(value, params[i].max, &v) != 0 ||
		    v < params[i].min)
			return coord_error_set(
				err, 400, "invalid_parameter",
				"parameter \"%s\" must be an integer %llu..%llu",
				key, (unsigned long long)params[i].min,
				(unsigned long long)params[i].max);
		q->seen |= params[i].bit;
		switch (params[i].bit) {
		case COORD_Q_SINCE:
			q->since = v;
			break;
		case COORD_Q_WAIT:
			q->wait_s = (uint32_t)v;
			break;
		case COORD_Q_AFTER:
			q->after = v;
			break;
		default:
			q->limit = (uint32_t)v;
			break;
		}
		return 0;
	}
	return coord_error_set(err, 400, "unknown_parameter",
			       "unknown parameter \"%.64s\"", key);
}
