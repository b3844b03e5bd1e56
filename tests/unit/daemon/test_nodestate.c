// SPDX-License-Identifier: MIT
/*
 * What icemeshd keeps across restarts (node.key, icemeshd.json) and its
 * systemd notifications, on files and sockets of the test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/nodestate.h"
#include "daemon/sdnotify.h"

static char dir[32];

static int setup(void **state)
{
	strcpy(dir, "/tmp/nodestate.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_key(void **state)
{
	uint8_t sk[32], pk[32], sk2[32], pk2[32], check[32];
	char path[128];
	struct stat st;

	assert_int_equal(nodestate_key(dir, sk, pk), 0);
	crypto_scalarmult_base(check, sk);
	assert_memory_equal(check, pk, 32);
	snprintf(path, sizeof(path), "%s/%s", dir, NODESTATE_KEY_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the same key after a restart */
	assert_int_equal(nodestate_key(dir, sk2, pk2), 0);
	assert_memory_equal(sk, sk2, 32);
	assert_memory_equal(pk, pk2, 32);
	/* a damaged file is an error, never a new identity */
	write_file(NODESTATE_KEY_FILE, "not base64 at all\n");
	assert_int_equal(nodestate_key(dir, sk2, pk2), -EBADMSG);
	write_file(NODESTATE_KEY_FILE, "AAAA\n");
	assert_int_equal(nodestate_key(dir, sk2, pk2), -EBADMSG);
}

static void test_conf(void **state)
{
	struct nodestate_conf c, back;

	assert_int_equal(nodestate_conf_load(dir, &back), -ENOENT);
	memset(&c, 0, sizeof(c));
	strcpy(c.coordinator, "https://203.0.113.10:8443");
	strcpy(c.pin, "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	strcpy(c.hostname, "laptop");
	c.up = true;
	assert_int_equal(nodestate_conf_save(dir, &c), 0);
	assert_int_equal(nodestate_conf_load(dir, &back), 0);
	assert_memory_equal(&c, &back, sizeof(c));
	c.up = false;
	memset(c.pin, 0, sizeof(c.pin));
	strcpy(c.ca_file, "/etc/ssl/ca.pem");
	assert_int_equal(nodestate_conf_save(dir, &c), 0);
	assert_int_equal(nodestate_conf_load(dir, &back), 0);
	assert_memory_equal(&c, &back, sizeof(c));
}

static void test_conf_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"coordinator\":\"https://c\"}", /* no up */
		"{\"up\":true}", /* no coordinator */
		"{\"coordinator\":1,\"up\":true}",
		"{\"coordinator\":\"https://c\",\"up\":1}",
		"{\"coordinator\":\"https://c\",\"up\":true,\"pin\":false}",
		"{\"coordinator\":\"https://c\",\"up\":true,\"up\":false}",
		"{\"coordinator\":\"https://c\\nx\",\"up\":true}",
	};
	struct nodestate_conf c;
	char big[1200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (nodestate_conf_parse(bad[i], strlen(bad[i]), &c) !=
		    -EBADMSG)
			fail_msg("accepted bad[%zu]: %s", i, bad[i]);
	snprintf(big, sizeof(big), "{\"coordinator\":\"https://%0900d\",\"up\":true}", 0);
	assert_int_equal(nodestate_conf_parse(big, strlen(big), &c), -EBADMSG);
}

static void test_sdnotify(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[128], buf[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_send("READY=1"), -ENOENT);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(sdnotify_send("READY=1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_int_equal(n, 7);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1");
	setenv("NOTIFY_SOCKET", "relative", 1);
	assert_int_equal(sdnotify_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	close(fd);

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(sdnotify_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(sdnotify_watchdog_ms(), 15000);
	snprintf(buf, sizeof(buf), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", buf, 1);
	assert_int_equal(sdnotify_watchdog_ms(), 0); /* for another process */
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	setenv("WATCHDOG_PID", buf, 1);
	assert_int_equal(sdnotify_watchdog_ms(), 15000);
	setenv("WATCHDOG_USEC", "junk", 1);
	assert_int_equal(sdnotify_watchdog_ms(), 0);
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sdnotify, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
