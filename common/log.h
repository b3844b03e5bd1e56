/* SPDX-License-Identifier: MIT */
/*
 * One logging module for every program: a level, a topic, printf-checked
 * formats, journald-friendly lines on stderr, and a rate limit for anything
 * that can happen per packet.
 *
 * Lines look like
 *     <6>ice: peer abc selected host 192.0.2.1:4242 (rtt 3 ms)
 * when stderr is the journal (JOURNAL_STREAM set), and like
 *     2026-11-22T08:40:00.123Z info  ice: ...
 * otherwise. At debug level the source location is appended.
 */
#ifndef ICEMESH_COMMON_LOG_H
#define ICEMESH_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* Values are syslog priorities, so the journal understands the prefix. */
enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Lines above this level are dropped. Default: LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info" or "debug"; 0 on success, -EINVAL otherwise. */
int log_level_parse(const char *name, enum log_level *out);
/* Send lines to a callback instead of stderr (tests); NULL restores stderr. */
typedef void (*log_sink_fn)(enum log_level level, const char *topic,
			    const char *line, void *arg);
void log_set_sink(log_sink_fn fn, void *arg);

void log_write(enum log_level level, const char *topic, const char *file,
	       int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void log_vwrite(enum log_level level, const char *topic, const char *file,
		int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

#define log_at(level, topic, ...)                                       \
	do {                                                            \
		if ((level) <= log_get_level())                         \
			log_write((level), (topic), __FILE__, __LINE__, \
				  __VA_ARGS__);                         \
	} while (0)

#define log_error(topic, ...) log_at(LOG_LEVEL_ERROR, topic, __VA_ARGS__)
#define log_warn(topic, ...) log_at(LOG_LEVEL_WARN, topic, __VA_ARGS__)
#define log_info(topic, ...) log_at(LOG_LEVEL_INFO, topic, __VA_ARGS__)
#define log_debug(topic, ...) log_at(LOG_LEVEL_DEBUG, topic, __VA_ARGS__)

/*
 * A token bucket per call site: at most `burst` lines, refilled at one line
 * per `interval_ms`. Lines suppressed in between are counted and reported
 * with the next line that passes.
 */
struct log_ratelimit {
	uint64_t last_ms;
	uint32_t tokens;
	uint32_t suppressed;
	bool primed;
};
/* True if a line may be written now; *suppressed gets the count dropped since. */
bool log_ratelimit_allow(struct log_ratelimit *rl, uint32_t burst,
			 uint32_t interval_ms, uint32_t *suppressed);

#define log_ratelimited(level, topic, ...)                                 \
	do {                                                               \
		static struct log_ratelimit rl_;                           \
		uint32_t dropped_;                                         \
		if ((level) <= log_get_level() &&                          \
		    log_ratelimit_allow(&rl_, 5, 1000, &dropped_)) {       \
			if (dropped_)                                      \
				log_write((level), (topic), __FILE__,      \
					  __LINE__,                        \
					  "(%u similar lines suppressed)", \
					  dropped_);                       \
			log_write((level), (topic), __FILE__, __LINE__,    \
				  __VA_ARGS__);                            \
		}                                                          \
	} while (0)

#endif
