/* SPDX-License-Identifier: MIT */
/*
 * Small files in the node's state directory: written atomically (a tmp file
 * beside the target, fsync, rename, fsync of the directory), mode 0600, and
 * read back with a size cap so a damaged file decides no allocation.
 */
#ifndef ICEMESH_COORDC_STATEFILE_H
#define ICEMESH_COORDC_STATEFILE_H

#include <stddef.h>

/*
 * Replace path with len bytes of data: either the old or the new content is
 * there after a crash, never a mix. Returns 0 or a negative errno.
 */
int statefile_write(const char *path, const void *data, size_t len);

/*
 * Read all of path, at most max bytes, into a new NUL-terminated buffer
 * (*out, freed by the caller with free(); *out_len excludes the NUL).
 * Returns 0, -ENOENT, -EFBIG when the file is larger than max, or another
 * negative errno.
 */
int statefile_read(const char *path, size_t max, char **out, size_t *out_len);

#endif
