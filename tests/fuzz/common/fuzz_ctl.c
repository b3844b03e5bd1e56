// SPDX-License-Identifier: MIT
/*
 * Control protocol lines from a hostile peer: each line of the input goes
 * to the request parser and to the response parser of every command.
 * Beyond not crashing, what is accepted must survive the way back: a parsed
 * request or response builds again and parses again to the same thing, so
 * the decoder never accepts what the encoder would refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request_roundtrip(const char *line, size_t len)
{
	struct ctl_request req, back;
	struct ctl_error err;
	char buf[CTL_REQUEST_MAX];
	size_t n;

	if (ctl_request_parse(line, len, &req, &err) != 0) {
		if (!err.message[0] || !err.code_str[0])
			abort();
		return;
	}
	if (ctl_request_build(&req, buf, sizeof(buf), &n, &err) != 0)
		abort();
	if (ctl_request_parse(buf, n, &back, &err) != 0)
		abort();
	if (back.id != req.id || back.cmd != req.cmd ||
	    memcmp(&back.args, &req.args, sizeof(req.args)) != 0)
		abort();
	ctl_request_wipe(&req);
	ctl_request_wipe(&back);
}

static void response_roundtrip(const char *line, size_t len, enum ctl_cmd cmd)
{
	struct ctl_response resp, back;
	struct ctl_error err;
	char *buf = NULL;
	size_t n;
	int r;

	if (ctl_response_parse(line, len, cmd, &resp, NULL, &err) != 0)
		return;
	if (resp.kind == CTL_RESP_ERROR)
		r = ctl_response_build_error(resp.error.has_id, resp.id,
					     &resp.error, &buf, &n);
	else if (resp.kind == CTL_RESP_EVENT)
		r = ctl_response_build_event(resp.id, cmd, &resp.u, &buf, &n,
					     &err);
	else
		r = ctl_response_build_ok(resp.id, cmd, &resp.u, &buf, &n,
					  &err);
	if (r != 0)
		abort();
	if (ctl_response_parse(buf, n, cmd, &back, NULL, &err) != 0)
		abort();
	if (back.kind != resp.kind || back.id != resp.id)
		abort();
	ctl_response_free(&back);
	ctl_response_free(&resp);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		request_roundtrip(p, len);
		for (int cmd = 0; cmd < CTL_CMD_COUNT; cmd++)
			response_roundtrip(p, len, (enum ctl_cmd)cmd);
		p += len + 1;
	}
	return 0;
}
