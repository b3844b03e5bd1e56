// SPDX-License-Identifier: MIT
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "tun/vnet.h"

/* Older uapi headers lack the USO bits (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

struct tun_device {
	int fd;
	unsigned ifindex;
	unsigned offloads;
	bool vnet_hdr;
	char name[IFNAMSIZ];
};

/* The richest offload set the kernel takes, from most to least. */
static unsigned set_offloads(int fd)
{
	static const unsigned tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN |
			TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM,
	};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0)
			return tries[i];
	return 0;
}

/* The TUN fd answers only TUN ioctls; SIOCGIFINDEX needs a socket. */
static int ifindex_of(struct ifreq *ifr)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, SIOCGIFINDEX, ifr) < 0 ? -errno : ifr->ifr_ifindex;
	close(fd);
	return ret;
}

static int attach(struct tun_device *t, const char *name, unsigned flags)
{
	struct ifreq ifr;
	int hdrsz = VNET_HDR_LEN, ret;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (flags & TUN_OPEN_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (name)
		strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	ret = ifindex_of(&ifr);
	if (ret < 0)
		return ret;
	t->ifindex = (unsigned)ret;
	if (flags & TUN_OPEN_VNET_HDR) {
		if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0)
			return -errno;
		t->vnet_hdr = true;
		t->offloads = set_offloads(t->fd);
	}
	return 0;
}

int tun_open(const char *name, unsigned flags, struct tun_device **out)
{
	struct tun_device *t;
	int ret;

	if (name && strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = attach(t, name, flags);
	if (ret)
		goto err_close;
	log_info("tun", "opened %s (ifindex %u, vnet_hdr %s, offloads 0x%x)",
		 t->name, t->ifindex, t->vnet_hdr ? "on" : "off", t->offloads);
	*out = t;
	return 0;
err_close:
	close(t->fd);
err:
	free(t);
	return ret;
}

int tun_wrap_fd(int fd, bool vnet_hdr, struct tun_device **out)
{
	struct tun_device *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->fd = fd;
	t->vnet_hdr = vnet_hdr;
	strcpy(t->name, "wrapped");
	*out = t;
	return 0;
}

void tun_close(struct tun_device *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t);
}

int tun_fd(const struct tun_device *t)
{
	return t->fd;
}

const char *tun_name(const struct tun_device *t)
{
	return t->name;
}

unsigned tun_ifindex(const struct tun_device *t)
{
	return t->ifindex;
}

bool tun_has_vnet_hdr(const struct tun_device *t)
{
	return t->vnet_hdr;
}

unsigned tun_offloads(const struct tun_device *t)
{
	return t->offloads;
}

ssize_t tun_read(struct tun_device *t, uint8_t *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(t->fd, buf, cap);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int write_iov(int fd, const struct iovec *iov, int n, size_t total)
{
	for (;;) {
		ssize_t w = writev(fd, iov, n);

		if (w >= 0)
			return (size_t)w == total ? 0 : -EIO;
		if (errno != EINTR)
			return -errno;
	}
}

int tun_write_ip(struct tun_device *t, const uint8_t *pkt, size_t len)
{
	static const uint8_t zero_hdr[VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = (void *)zero_hdr, .iov_len = VNET_HDR_LEN },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};

	if (!t->vnet_hdr)
		return write_iov(t->fd, &iov[1], 1, len);
	return write_iov(t->fd, iov, 2, VNET_HDR_LEN + len);
}

int tun_write_raw(struct tun_device *t, const uint8_t *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };

	return write_iov(t->fd, &iov, 1, len);
}

/* ---------------------------------------------------------------- batches */

struct tun_batch {
	size_t max, n, cap;
	uint8_t **segs;
	size_t *lens;
	uint8_t *store;
	/* one read, kept when its segments did not fit */
	uint8_t *raw;
	size_t raw_len;
	bool pending;
	struct tun_batch_stats st;
};

struct tun_batch *tun_batch_create(size_t max_segs, size_t seg_cap)
{
	struct tun_batch *b;

	if (max_segs == 0 || seg_cap == 0 || max_segs > 65536)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->max = max_segs;
	b->cap = seg_cap;
	b->segs = calloc(max_segs, sizeof(*b->segs));
	b->lens = calloc(max_segs, sizeof(*b->lens));
	b->store = malloc(max_segs * seg_cap);
	b->raw = malloc(VNET_HDR_LEN + VNET_MAX_PACKET);
	if (!b->segs || !b->lens || !b->store || !b->raw) {
		tun_batch_destroy(b);
		return NULL;
	}
	for (size_t i = 0; i < max_segs; i++)
		b->segs[i] = b->store + i * seg_cap;
	return b;
}

void tun_batch_destroy(struct tun_batch *b)
{
	if (!b)
		return;
	free(b->segs);
	free(b->lens);
	free(b->store);
	free(b->raw);
	free(b);
}

/* Split the read in b->raw into free slots; 1 if it has to wait. */
static int batch_take_raw(struct tun_batch *b)
{
	int n = vnet_split(b->raw, b->raw_len, b->segs + b->n, b->cap,
			   b->lens + b->n, b->max - b->n);

	if (n == -ENOBUFS && b->n > 0) {
		b->pending = true; /* room in the next batch */
		return 1;
	}
	b->pending = false;
	if (n == -ENOBUFS)
		b->st.too_big++;
	else if (n < 0)
		b->st.malformed++;
	else
		b->n += (size_t)n;
	if (n > 0)
		b->st.segments += (unsigned)n;
	return 0;
}

static bool raw_is_gso(const struct tun_batch *b)
{
	return b->raw_len >= VNET_HDR_LEN &&
	       (b->raw[1] & (uint8_t)~VNET_GSO_ECN) != VNET_GSO_NONE;
}

/* One read; 0 when something was read, -EAGAIN when empty, or -errno. */
static int batch_read_one(struct tun_device *t, struct tun_batch *b)
{
	ssize_t n;

	if (!t->vnet_hdr) {
		n = tun_read(t, b->segs[b->n], b->cap);
		if (n < 0)
			return (int)n;
		b->st.reads++;
		b->st.segments++;
		b->lens[b->n++] = (size_t)n;
		return 0;
	}
	n = tun_read(t, b->raw, VNET_HDR_LEN + VNET_MAX_PACKET);
	if (n < 0)
		return (int)n;
	b->raw_len = (size_t)n;
	b->st.reads++;
	if (raw_is_gso(b)) {
		b->st.super_packets++;
		if ((b->raw[1] & (uint8_t)~VNET_GSO_ECN) == VNET_GSO_UDP_L4)
			b->st.udp_super_packets++;
	}
	batch_take_raw(b);
	return 0;
}

int tun_read_batch(struct tun_device *t, struct tun_batch *b,
		   unsigned max_reads)
{
	if (b->pending && batch_take_raw(b))
		return (int)b->n;
	for (unsigned i = 0; i < max_reads && b->n < b->max && !b->pending;
	     i++) {
		int ret = batch_read_one(t, b);

		if (ret == -EAGAIN)
			break;
		if (ret < 0)
			return ret;
	}
	return (int)b->n;
}

size_t tun_batch_count(const struct tun_batch *b)
{
	return b->n;
}

uint8_t *tun_batch_packet(struct tun_batch *b, size_t i, size_t *len)
{
	*len = b->lens[i];
	return b->segs[i];
}

void tun_batch_clear(struct tun_batch *b)
{
	b->n = 0;
}

const struct tun_batch_stats *tun_batch_stats(const struct tun_batch *b)
{
	return &b->st;
}
