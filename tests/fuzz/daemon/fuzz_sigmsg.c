// SPDX-License-Identifier: MIT
/*
 * The ICE signal parser (daemon/sigmsg.h) on hostile bytes: a peer's
 * daemon, sealed but not trusted to be well-formed. Whatever parses must
 * build again and parse back to the same message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sigmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sigmsg m, m2;
	static char lines[SIGMSG_MAX_CANDS][ICE_LINE_MAX];
	const char *lp[SIGMSG_MAX_CANDS];
	static char buf[SIGMSG_MAX_LEN * 2];
	int len;

	if (sigmsg_parse((const char *)data, size, &m))
		return 0;
	for (size_t i = 0; i < m.n_cands; i++) {
		if (ice_candidate_format(&m.cands[i], lines[i],
					 sizeof(lines[i])) < 0)
			abort();
		lp[i] = lines[i];
	}
	len = sigmsg_build(buf, sizeof(buf), m.kind, m.gen, m.ack, m.ufrag,
			   m.pwd, lp, m.n_cands, m.end_of_candidates);
	if (len < 0)
		return 0; /* longer once normalised: allowed */
	if (sigmsg_parse(buf, (size_t)len, &m2) != 0 && len <= SIGMSG_MAX_LEN)
		abort();
	if (len <= SIGMSG_MAX_LEN &&
	    (m2.kind != m.kind || m2.gen != m.gen || m2.n_cands != m.n_cands ||
	     m2.end_of_candidates != m.end_of_candidates ||
	     strcmp(m2.ufrag, m.ufrag) || strcmp(m2.pwd, m.pwd)))
		abort();
	return 0;
}
