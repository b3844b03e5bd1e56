// SPDX-License-Identifier: MIT
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static log_sink_fn sink_fn;
static void *sink_arg;
static int to_journal = -1; /* -1: not yet looked at */

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
	{ "error", LOG_LEVEL_ERROR },
	{ "warn", LOG_LEVEL_WARN },
	{ "info", LOG_LEVEL_INFO },
	{ "debug", LOG_LEVEL_DEBUG },
};

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(name, level_names[i].name) == 0) {
			*out = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *level_name(enum log_level level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (level_names[i].level == level)
			return level_names[i].name;
	}
	return "?";
}

void log_set_sink(log_sink_fn fn, void *arg)
{
	sink_fn = fn;
	sink_arg = arg;
}

void log_vwrite(enum log_level level, const char *topic, const char *file,
		int line, const char *fmt, va_list ap)
{
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	/* One line per record: a peer-supplied newline must not forge another. */
	for (char *p = msg; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	if (sink_fn) {
		sink_fn(level, topic, msg, sink_arg);
		return;
	}
	if (to_journal < 0)
		to_journal = getenv("JOURNAL_STREAM") != NULL;
	if (to_journal) {
		if (current_level >= LOG_LEVEL_DEBUG)
			fprintf(stderr, "<%d>%s: %s (%s:%d)\n", level, topic,
				msg, file, line);
		else
			fprintf(stderr, "<%d>%s: %s\n", level, topic, msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (current_level >= LOG_LEVEL_DEBUG)
		fprintf(stderr, "%s.%03ldZ %-5s %s: %s (%s:%d)\n", when,
			ts.tv_nsec / 1000000, level_name(level), topic, msg,
			file, line);
	else
		fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", when,
			ts.tv_nsec / 1000000, level_name(level), topic, msg);
}

void log_write(enum log_level level, const char *topic, const char *file,
	       int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, topic, file, line, fmt, ap);
	va_end(ap);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, uint32_t burst,
			 uint32_t interval_ms, uint32_t *suppressed)
{
	uint64_t now = clock_now_ms();

	if (!rl->primed) {
		rl->primed = true;
		rl->tokens = burst;
		rl->last_ms = now;
	}
	if (interval_ms && now > rl->last_ms) {
		uint64_t refill = (now - rl->last_ms) / interval_ms;

		if (refill) {
			rl->tokens = refill >= burst
					     ? burst
					     : rl->tokens + (uint32_t)refill;
			if (rl->tokens > burst)
				rl->tokens = burst;
			rl->last_ms += refill * interval_ms;
		}
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
