// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "coordinator-client/sealbox.h"
#include "coordinator-client/statefile.h"

#define T0 1795000000000ULL /* a wall time in ms */

struct node {
	uint8_t pk[32], sk[32];
	struct sealbox *sb;
};

static void node_init(struct node *n, uint64_t epoch,
		      const struct sealbox_config *cfg)
{
	crypto_box_keypair(n->pk, n->sk);
	n->sb = sealbox_new(n->sk, n->pk, epoch, cfg);
	assert_non_null(n->sb);
}

static void node_restart(struct node *n, uint64_t epoch,
			 const struct sealbox_config *cfg)
{
	sealbox_free(n->sb);
	n->sb = sealbox_new(n->sk, n->pk, epoch, cfg);
	assert_non_null(n->sb);
}

struct pair {
	struct node a, b;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (!p || sodium_init() < 0)
		return -1;
	node_init(&p->a, 1, NULL);
	node_init(&p->b, 1, NULL);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	sealbox_free(p->a.sb);
	sealbox_free(p->b.sb);
	free(p);
	return 0;
}

/* Seal msg from -> to at time t into box; returns its length. */
static size_t seal(struct node *from, struct node *to, const char *msg,
		   uint64_t t, uint8_t *box)
{
	size_t len = 0;

	assert_int_equal(sealbox_seal(from->sb, to->pk, msg, strlen(msg), t,
				      box, SEALBOX_MAX_SEALED, &len),
			 0);
	assert_int_equal(len, strlen(msg) + SEALBOX_OVERHEAD);
	return len;
}

static int open_at(struct node *to, struct node *from, const uint8_t *box,
		   size_t len, uint64_t t, char *out)
{
	size_t out_len = 0;
	int ret = sealbox_open(to->sb, from->pk, box, len, t, (uint8_t *)out,
			       SEALBOX_MAX_PAYLOAD, &out_len);

	if (ret == 0)
		out[out_len] = '\0';
	return ret;
}

static void test_round_trip(void **state)
{
	struct pair *p = *state;
	static const char *const msgs[] = { "offer v=0 ...", "", "x" };
	uint8_t box[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	size_t len;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		len = seal(&p->a, &p->b, msgs[i], T0, box);
		assert_int_equal(open_at(&p->b, &p->a, box, len, T0 + 5, out),
				 0);
		assert_string_equal(out, msgs[i]);
		/* and the other way */
		len = seal(&p->b, &p->a, msgs[i], T0, box);
		assert_int_equal(open_at(&p->a, &p->b, box, len, T0, out), 0);
		assert_string_equal(out, msgs[i]);
	}
}

static void test_sizes(void **state)
{
	struct pair *p = *state;
	static uint8_t big[SEALBOX_MAX_PAYLOAD + 1],
		box[SEALBOX_MAX_SEALED + 1];
	static uint8_t out[SEALBOX_MAX_PAYLOAD];
	size_t len = 0, out_len = 0;

	randombytes_buf(big, sizeof(big));
	assert_int_equal(sealbox_seal(p->a.sb, p->b.pk, big, sizeof(big), T0,
				      box, sizeof(box), &len),
			 -EINVAL);
	assert_int_equal(sealbox_seal(p->a.sb, p->b.pk, big, 10, T0, box,
				      10 + SEALBOX_OVERHEAD - 1, &len),
			 -ENOBUFS);
	assert_int_equal(sealbox_seal(p->a.sb, p->b.pk, big,
				      SEALBOX_MAX_PAYLOAD, T0, box,
				      SEALBOX_MAX_SEALED, &len),
			 0);
	assert_int_equal(len, SEALBOX_MAX_SEALED);
	assert_int_equal(sealbox_open(p->b.sb, p->a.pk, box, len, T0, out,
				      sizeof(out) - 1, &out_len),
			 -ENOBUFS);
	assert_int_equal(sealbox_open(p->b.sb, p->a.pk, box, len, T0, out,
				      sizeof(out), &out_len),
			 0);
	assert_int_equal(out_len, SEALBOX_MAX_PAYLOAD);
	assert_memory_equal(out, big, SEALBOX_MAX_PAYLOAD);
	/* too short, too long, bad version */
	assert_int_equal(sealbox_open(p->b.sb, p->a.pk, box,
				      SEALBOX_OVERHEAD - 1, T0, out,
				      sizeof(out), &out_len),
			 -EBADMSG);
	assert_int_equal(sealbox_open(p->b.sb, p->a.pk, box,
				      SEALBOX_MAX_SEALED + 1, T0, out,
				      sizeof(out), &out_len),
			 -EBADMSG);
}

static void test_tamper(void **state)
{
	struct pair *p = *state;
	uint8_t box[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	size_t len = seal(&p->a, &p->b,
			  "candidate:1 1 UDP 1 192.0.2.1 1 typ host", T0, box);

	/* every bit of every byte, one at a time */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			box[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(
				open_at(&p->b, &p->a, box, len, T0, out),
				-EBADMSG);
			box[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* truncated */
	assert_int_equal(open_at(&p->b, &p->a, box, len - 1, T0, out),
			 -EBADMSG);
	/* untouched it still opens: the loop refused for the flips alone */
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), 0);
}

static void test_wrong_key(void **state)
{
	struct pair *p = *state;
	struct node c;
	uint8_t box[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	size_t len;

	node_init(&c, 1, NULL);
	len = seal(&p->a, &p->b, "for b", T0, box);
	/* a third node cannot open it */
	assert_int_equal(open_at(&c, &p->a, box, len, T0, out), -EBADMSG);
	/* b refuses it when told it came from c */
	assert_int_equal(open_at(&p->b, &c, box, len, T0, out), -EBADMSG);
	/* reflected back at a, as if from b: same shared key, wrong recipient */
	assert_int_equal(open_at(&p->a, &p->b, box, len, T0, out), -EBADMSG);
	/* c sealing for b but claiming to be a */
	len = seal(&c, &p->b, "forged", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), -EBADMSG);
	/* a's real one still opens after all that */
	len = seal(&p->a, &p->b, "for b", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), 0);
	sealbox_free(c.sb);
}

static void test_replay_and_reorder(void **state)
{
	struct pair *p = *state;
	uint8_t box[4][SEALBOX_MAX_SEALED];
	size_t len[4];
	char out[SEALBOX_MAX_PAYLOAD + 1];

	for (int i = 0; i < 4; i++)
		len[i] = seal(&p->a, &p->b, "m", T0 + (uint64_t)i, box[i]);
	assert_int_equal(open_at(&p->b, &p->a, box[0], len[0], T0, out), 0);
	assert_int_equal(open_at(&p->b, &p->a, box[0], len[0], T0, out),
			 -EALREADY);
	/* out of order inside the window: each once */
	assert_int_equal(open_at(&p->b, &p->a, box[3], len[3], T0, out), 0);
	assert_int_equal(open_at(&p->b, &p->a, box[1], len[1], T0, out), 0);
	assert_int_equal(open_at(&p->b, &p->a, box[1], len[1], T0, out),
			 -EALREADY);
	assert_int_equal(open_at(&p->b, &p->a, box[2], len[2], T0, out), 0);
	assert_int_equal(open_at(&p->b, &p->a, box[3], len[3], T0, out),
			 -EALREADY);
}

static void test_window_edge(void **state)
{
	struct pair *p = *state;
	static uint8_t box[SEALBOX_WINDOW + 2][SEALBOX_MAX_SEALED];
	size_t len[SEALBOX_WINDOW + 2];
	char out[SEALBOX_MAX_PAYLOAD + 1];

	for (int i = 0; i < SEALBOX_WINDOW + 2; i++)
		len[i] = seal(&p->a, &p->b, "w", T0, box[i]);
	/* newest first: counter n, then n - 63 is the oldest still inside */
	assert_int_equal(open_at(&p->b, &p->a, box[SEALBOX_WINDOW + 1],
				 len[SEALBOX_WINDOW + 1], T0, out),
			 0);
	assert_int_equal(open_at(&p->b, &p->a, box[2], len[2], T0, out), 0);
	assert_int_equal(open_at(&p->b, &p->a, box[1], len[1], T0, out),
			 -EALREADY);
}

/* The window against a plain "set of everything seen" reference. */
static void test_window_vs_reference(void **state)
{
	struct pair *p = *state;
	enum { N = 400 };
	static uint8_t box[N][SEALBOX_MAX_SEALED];
	static size_t len[N];
	static bool seen[N];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	uint32_t highest = 0;
	bool any = false;

	for (int i = 0; i < N; i++)
		len[i] = seal(&p->a, &p->b, "r", T0, box[i]);
	for (int step = 0; step < 4 * N; step++) {
		uint32_t i = randombytes_uniform(N);
		/* reference: accept iff unseen and within 64 of the highest */
		bool want = !seen[i] && (!any || i > highest ||
					 highest - i < SEALBOX_WINDOW);
		int ret = open_at(&p->b, &p->a, box[i], len[i], T0, out);

		assert_int_equal(ret, want ? 0 : -EALREADY);
		if (want) {
			seen[i] = true;
			if (!any || i > highest)
				highest = i;
			any = true;
		}
	}
}

static void test_time_bounds(void **state)
{
	struct pair *p = *state;
	uint8_t box[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	size_t len;

	len = seal(&p->a, &p->b, "old", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0 + 120001, out),
			 -ETIME);
	len = seal(&p->a, &p->b, "future", T0 + 120001, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), -ETIME);
	len = seal(&p->a, &p->b, "just in", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0 + 120000, out), 0);
}

/* A sender restart: new epoch from the state file, even if its clock ran
 * backwards; messages of the old epoch are refused once a new one arrived. */
static void test_sender_restart(void **state)
{
	struct pair *p = *state;
	char path[] = "/tmp/icemesh-sealbox-XXXXXX", file[64];
	uint8_t old_box[SEALBOX_MAX_SEALED], box[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	uint64_t e1 = 0, e2 = 0;
	size_t old_len, len;
	struct stat st;

	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/seal-epoch", path);
	assert_int_equal(sealbox_epoch_next(file, T0, &e1), 0);
	assert_int_equal(e1, T0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	node_restart(&p->a, e1, NULL);
	old_len = seal(&p->a, &p->b, "before", T0, old_box);
	len = seal(&p->a, &p->b, "before 2", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), 0);

	/* restart with the wall clock 10 s behind: epoch still grows */
	assert_int_equal(sealbox_epoch_next(file, T0 - 10000, &e2), 0);
	assert_int_equal(e2, e1 + 1);
	node_restart(&p->a, e2, NULL);
	len = seal(&p->a, &p->b, "after", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), 0);
	assert_string_equal(out, "after");
	/* counter 1 again, but a new epoch: the old box is still refused */
	assert_int_equal(open_at(&p->b, &p->a, old_box, old_len, T0, out),
			 -EALREADY);

	/* a corrupt epoch file is refused, not reset to zero */
	assert_int_equal(statefile_write(file, "12x\n", 4), 0);
	assert_int_equal(sealbox_epoch_next(file, T0, &e1), -EINVAL);
	unlink(file);
	rmdir(path);
}

/* A recipient restart loses its window: not_before closes the gap. */
static void test_recipient_restart(void **state)
{
	struct pair *p = *state;
	uint8_t box[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	struct sealbox_config cfg = { .not_before_ms = T0 + 1000 };
	size_t len;

	len = seal(&p->a, &p->b, "recorded", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), 0);
	node_restart(&p->b, 2, &cfg);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0 + 2000, out),
			 -ETIME);
	len = seal(&p->a, &p->b, "fresh", T0 + 1500, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0 + 2000, out), 0);
}

/* Junk under made-up sender keys does not evict real peers' state. */
static void test_peer_cap(void **state)
{
	struct pair *p = *state;
	struct sealbox_config cfg = { .max_peers = 2 };
	uint8_t box[SEALBOX_MAX_SEALED], junk[SEALBOX_MAX_SEALED];
	char out[SEALBOX_MAX_PAYLOAD + 1];
	uint8_t fake_pk[32], fake_sk[32];
	size_t len;

	node_restart(&p->b, 1, &cfg);
	len = seal(&p->a, &p->b, "real", T0, box);
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), 0);
	memcpy(junk, box, len);
	for (int i = 0; i < 10; i++) {
		size_t out_len;

		crypto_box_keypair(fake_pk, fake_sk);
		assert_int_equal(sealbox_open(p->b.sb, fake_pk, junk, len, T0,
					      (uint8_t *)out, sizeof(out),
					      &out_len),
				 -EBADMSG);
	}
	assert_int_equal(open_at(&p->b, &p->a, box, len, T0, out), -EALREADY);
	/* an all-zero (low order) key is refused, not used */
	memset(fake_pk, 0, sizeof(fake_pk));
	assert_int_equal(sealbox_seal(p->a.sb, fake_pk, "x", 1, T0, box,
				      sizeof(box), &len),
			 -EINVAL);
}

static void test_statefile(void **state)
{
	char dir[] = "/tmp/icemesh-statefile-XXXXXX", file[64];
	char *buf = NULL;
	size_t len = 0;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	assert_int_equal(statefile_read(file, 100, &buf, &len), -ENOENT);
	assert_int_equal(statefile_write(file, "hello", 5), 0);
	assert_int_equal(statefile_write(file, "hello world", 11), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(statefile_read(file, 10, &buf, &len), -EFBIG);
	assert_int_equal(statefile_read(file, 11, &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_string_equal(buf, "hello world");
	free(buf);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_reorder, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_window_edge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_window_vs_reference, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_time_bounds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sender_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recipient_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_cap, setup, teardown),
		cmocka_unit_test(test_statefile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
