/* SPDX-License-Identifier: MIT */
/*
 * The TUN device: IFF_TUN | IFF_NO_PI, optionally IFF_VNET_HDR with the
 * kernel's segmentation offloads (see vnet.h for what the packets then look
 * like). Addresses, MTU, routes and link state are set through netlink.h.
 */
#ifndef ICEMESH_TUN_TUN_H
#define ICEMESH_TUN_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tun_device;

enum {
	TUN_OPEN_VNET_HDR = 1 << 0, /* vnet header and TSO/USO offloads */
};

/* The offloads granted (tun_offloads), values of linux/if_tun.h TUN_F_*. */
enum {
	TUN_OFFLOAD_CSUM = 0x01,
	TUN_OFFLOAD_TSO4 = 0x02,
	TUN_OFFLOAD_TSO6 = 0x04,
	TUN_OFFLOAD_TSO_ECN = 0x08,
	TUN_OFFLOAD_USO4 = 0x20,
	TUN_OFFLOAD_USO6 = 0x40,
};

/*
 * Create (or attach to) the TUN device called name ("" or NULL: the kernel
 * picks tunN). The fd is non-blocking and close-on-exec. With
 * TUN_OPEN_VNET_HDR, asks for checksum, TSO and USO offloads, falling back
 * to what the kernel has (USO needs Linux 6.2). Returns 0 or -errno; *out is
 * the caller's, freed by tun_close.
 */
int tun_open(const char *name, unsigned flags, struct tun_device **out);
/*
 * Wrap an fd that behaves like a TUN (one packet per read/write), with or
 * without vnet headers: for tests, which use a datagram socketpair. The
 * device takes the fd and closes it.
 */
int tun_wrap_fd(int fd, bool vnet_hdr, struct tun_device **out);
/* Closes the fd (the kernel removes a non-persistent device); accepts NULL. */
void tun_close(struct tun_device *t);

int tun_fd(const struct tun_device *t);
/* The interface name the kernel gave; owned by t. */
const char *tun_name(const struct tun_device *t);
unsigned tun_ifindex(const struct tun_device *t);
bool tun_has_vnet_hdr(const struct tun_device *t);
/* TUN_OFFLOAD_* bits the kernel accepted (0 without vnet header). */
unsigned tun_offloads(const struct tun_device *t);

/*
 * Read one packet (vnet header first on a vnet_hdr device). Returns its
 * length, -EAGAIN when none is waiting, or -errno.
 */
ssize_t tun_read(struct tun_device *t, uint8_t *buf, size_t cap);
/*
 * Write one plain IP packet; on a vnet_hdr device a zero header is put in
 * front of it. Returns 0 or -errno (-EAGAIN when the queue is full).
 */
int tun_write_ip(struct tun_device *t, const uint8_t *pkt, size_t len);
/* Write bytes that already start with a vnet header (vnet_gro_flush output). */
int tun_write_raw(struct tun_device *t, const uint8_t *data, size_t len);

/* ------------------------------------------------------------- batches */

/*
 * The read side of the data path: IP packets read from the TUN, super-packets
 * already split (vnet.h), in buffers allocated once. The daemon reads a
 * batch per wakeup, routes and encrypts it, then clears it.
 */
struct tun_batch;

struct tun_batch_stats {
	uint64_t reads; /* packets read from the device */
	uint64_t super_packets; /* of which GSO super-packets */
	uint64_t udp_super_packets; /* of which UDP (USO) */
	uint64_t segments; /* IP packets handed out */
	uint64_t malformed; /* dropped: vnet_split said -EINVAL */
	uint64_t too_big; /* dropped: would not fit even an empty batch */
};

/*
 * Room for max_segs packets of seg_cap bytes (seg_cap at least the MTU).
 * NULL on ENOMEM or max_segs == 0.
 */
struct tun_batch *tun_batch_create(size_t max_segs, size_t seg_cap);
void tun_batch_destroy(struct tun_batch *b);
/*
 * Read at most max_reads packets into b, appending. Stops early when the
 * device has nothing more (-EAGAIN inside) or b is full; a super-packet
 * that does not fit is kept and split into the next batch first, never
 * lost. Returns the number of packets in b, or -errno on a device error.
 */
int tun_read_batch(struct tun_device *t, struct tun_batch *b,
		   unsigned max_reads);
size_t tun_batch_count(const struct tun_batch *b);
/* Packet i (< count) and its length; owned by b until tun_batch_clear. */
uint8_t *tun_batch_packet(struct tun_batch *b, size_t i, size_t *len);
/* Forget the packets (a kept super-packet stays for the next read). */
void tun_batch_clear(struct tun_batch *b);
const struct tun_batch_stats *tun_batch_stats(const struct tun_batch *b);

#endif
