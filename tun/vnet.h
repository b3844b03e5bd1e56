/* SPDX-License-Identifier: MIT */
/*
 * vnet_hdr offloads of a TUN device, without I/O.
 *
 * With IFF_VNET_HDR every packet read from or written to the TUN starts with
 * a struct virtio_net_hdr (10 bytes, host byte order). After TUNSETOFFLOAD
 * the kernel hands over TCP/UDP "super-packets" of up to 64 KiB with a
 * partial checksum; vnet_split cuts one into wire-sized IP packets with
 * complete checksums. On the way back, struct vnet_gro coalesces consecutive
 * TCP segments (and UDP datagrams) of one flow into such super-packets again
 * (GRO), so the kernel's stack sees few large packets instead of many small
 * ones.
 */
#ifndef ICEMESH_TUN_VNET_H
#define ICEMESH_TUN_VNET_H

#include <stddef.h>
#include <stdint.h>

enum {
	VNET_HDR_LEN = 10, /* sizeof(struct virtio_net_hdr) */
	/* virtio_net_hdr.flags and .gso_type (linux/virtio_net.h) */
	VNET_F_NEEDS_CSUM = 1,
	VNET_F_DATA_VALID = 2,
	VNET_GSO_NONE = 0,
	VNET_GSO_TCPV4 = 1,
	VNET_GSO_TCPV6 = 4,
	VNET_GSO_UDP_L4 = 5,
	VNET_GSO_ECN = 0x80,
	/* The largest super-packet: an IP datagram can be no longer. */
	VNET_MAX_PACKET = 65535,
};

struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Header from/to the first VNET_HDR_LEN bytes (host byte order, as TUN uses). */
void vnet_hdr_get(struct vnet_hdr *h, const uint8_t *p);
void vnet_hdr_put(uint8_t *p, const struct vnet_hdr *h);

/*
 * Split one packet as read from a vnet_hdr TUN (header first, len bytes in
 * all) into IP packets with complete IP/TCP/UDP checksums. Segment i is
 * written to bufs[i] (buf_cap bytes each) and its length to lens[i].
 * Returns the number of packets (>= 1), -EINVAL for a malformed header or
 * packet (drop and count it), or -ENOBUFS when more than max_segs buffers or
 * larger buffers would be needed. Never reads outside pkt[0..len).
 */
int vnet_split(const uint8_t *pkt, size_t len, uint8_t *const *bufs,
	       size_t buf_cap, size_t *lens, size_t max_segs);

/*
 * Internet checksum helpers (RFC 1071), exposed for tests and tools:
 * the folded one's-complement sum of data plus an initial 32-bit sum.
 */
uint16_t vnet_csum_fold(uint32_t sum);
uint32_t vnet_csum_add(uint32_t sum, const uint8_t *data, size_t len);
/*
 * 0 when pkt, a plain IPv4 or IPv6 packet (no extension headers), carries a
 * valid IPv4 header checksum and a valid TCP/UDP/ICMP(v6) checksum; -EINVAL
 * otherwise. For tests, tools and fuzzing, not for the data path.
 */
int vnet_verify_checksums(const uint8_t *pkt, size_t len);

/*
 * The coalescer. Packets are copied into buffers allocated once at create;
 * nothing is allocated per packet.
 */
struct vnet_gro;

enum {
	/*
	 * Coalesce UDP datagrams of a flow too (GSO_UDP_L4). Only when the
	 * TUN was granted USO for the family (tun_offloads), as the kernel
	 * needs it to take such packets.
	 */
	VNET_GRO_UDP = 1 << 0,
};

/*
 * Room for max_out (1..4096) output packets of up to VNET_MAX_PACKET bytes
 * each, allocated here. NULL on ENOMEM or a bad size.
 */
struct vnet_gro *vnet_gro_create(size_t max_out, unsigned flags);
void vnet_gro_destroy(struct vnet_gro *g);
/*
 * Add one plain IP packet (checksums complete). TCP segments (and with
 * VNET_GRO_UDP, UDP datagrams) that continue a flow already in the batch
 * are appended to it; anything else takes a new output. Returns 0, -EINVAL (not an IP packet) or -ENOBUFS (batch full:
 * flush, then add again).
 */
int vnet_gro_add(struct vnet_gro *g, const uint8_t *pkt, size_t len);
/*
 * Finish the batch: call write(arg, data, len) for each output in the order
 * first added, data starting with its vnet header; then empty the batch.
 * Stops at, and returns, the first non-zero write result.
 */
typedef int (*vnet_write_fn)(void *arg, const uint8_t *data, size_t len);
int vnet_gro_flush(struct vnet_gro *g, vnet_write_fn write, void *arg);
/* Outputs in the current batch. */
size_t vnet_gro_pending(const struct vnet_gro *g);

#endif
