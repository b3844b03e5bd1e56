// SPDX-License-Identifier: MIT
/*
 * RFC 8839 description lines from a peer: ice_sdp_parse_line on any bytes
 * never reads past them, and a candidate it accepts formats and parses back
 * to the same candidate.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ice/ice_candidate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[ICE_LINE_MAX + 64], out[ICE_LINE_MAX];
	struct ice_sdp_line l;
	struct ice_candidate back;
	int n;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (ice_sdp_parse_line(in, &l) != 0)
		return 0;
	if (l.kind == ICE_SDP_UFRAG || l.kind == ICE_SDP_PWD) {
		if (!ice_chars_valid(l.value, 1, ICE_CRED_MAX))
			abort();
		return 0;
	}
	if (l.kind != ICE_SDP_CANDIDATE)
		return 0;
	n = ice_candidate_format(&l.cand, out, sizeof(out));
	if (n <= 0 || ice_candidate_parse(out, &back) != 0)
		abort();
	if (back.type != l.cand.type || back.priority != l.cand.priority ||
	    back.component != l.cand.component ||
	    strcmp(back.foundation, l.cand.foundation) != 0 ||
	    !addr_equal(&back.addr, &l.cand.addr) ||
	    back.has_related != l.cand.has_related ||
	    (back.has_related && !addr_equal(&back.related, &l.cand.related)))
		abort();
	return 0;
}
