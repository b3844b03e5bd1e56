/* SPDX-License-Identifier: MIT */
/*
 * Words and structs for `icemesh status` and `icemesh why` from what the
 * ICE agent knows: pure functions, unit-tested without a network.
 */
#ifndef ICEMESH_DAEMON_MESH_REPORT_H
#define ICEMESH_DAEMON_MESH_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ctl.h"
#include "ice/ice_agent.h"

/* The status PATH of a selected pair (NULL: none). Relay when either
 * candidate is relayed: the data then crosses a TURN server. */
void mesh_path_fill(const struct ice_pair_info *sel, struct ctl_path *out);

/*
 * Split an ice_agent_report text into candidate pairs ("pair T A -> T A:
 * STATE after N tries[, why]") and the other lines (reasons). Lines that
 * do not fit a buffer, and pairs or reasons past the caps, are left out.
 * Returns the number of pairs; *n_reasons gets the number of reasons.
 */
size_t mesh_report_parse(const char *report, struct ctl_pair *pairs,
			 size_t max_pairs, char (*reasons)[CTL_TEXT_MAX],
			 size_t max_reasons, size_t *n_reasons);

/* What would make the path direct, from the path and the pairs tried. */
size_t mesh_advice(const struct ctl_path *path, const struct ctl_pair *pairs,
		   size_t n_pairs, char (*advice)[CTL_TEXT_MAX], size_t max);

#endif
